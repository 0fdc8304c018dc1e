"""Authentication: application keys, client secret hashing, access tokens."""
