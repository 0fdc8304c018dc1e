"""Completion notifications: the event every finished export publishes, and per-store webhooks."""
