"""Vault I/O: everything that touches the files of a vault lives in this package."""
