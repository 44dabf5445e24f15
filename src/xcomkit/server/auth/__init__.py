"""Authentication and authorization: password hashes, JWT access tokens, roles."""
