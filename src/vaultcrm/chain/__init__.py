"""A chain of stores sharing one vault through git: store setup, field-wise merges, sync, duplicates, reports."""
