"""Vault I/O: reading, parsing, caching, locking and atomically writing the files of a vault; it imports
nothing above values, models, errors and diagnostics."""
