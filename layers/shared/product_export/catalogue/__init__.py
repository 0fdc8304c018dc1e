"""The catalogue: products of a store, their validation, storage layout and queries."""
