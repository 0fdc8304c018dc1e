"""HTTP adapters shared by the API functions: JSON:API documents, errors and the caller's identity."""
