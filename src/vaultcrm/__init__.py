"""vaultcrm — a command-line CRM for wellness studios whose database is an Obsidian vault.

Layout (see ARCHITECTURE.md): cli/ → feature packages (booking/, services/, followups/, reminders/,
stats/, customers/, privacy/, exports/, watch/, checks/, init/) → core/ (config, index, loader, store,
render) → vault/ (file I/O) → values, models, errors, diagnostics. Imports only point down.
"""

__version__ = "0.1.0"
