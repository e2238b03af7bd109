"""vaultcrm — a command-line CRM for wellness studios whose database is an Obsidian vault.

Data flow::

    notes (*.md) ──scan──▶ vault.reader (frontmatter → YAML → models, diagnostics)
                  ◀─cache─ vault.cache (.vaultcrm/cache, keyed by path, mtime, size)
    records ──▶ index.VaultIndex (customer → APP/SRV/FLW) ──▶ pure domain functions
                (checks, booking, statistics, reminders, follow-ups)
    results ──▶ render (Jinja2 templates/) ──▶ vault.store / vault.writer (atomic, in-place edits)
    cli/ parses options, calls one core function, prints with rich, maps errors to exit codes.
"""

__version__ = "0.1.0"
