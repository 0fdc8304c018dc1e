"""Shared domain code of the product export service (packaged as the Lambda layer)."""
