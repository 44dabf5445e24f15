"""Storage: tables (schema), engine and migrations (db), and queries (xcoms, registry, users)."""
