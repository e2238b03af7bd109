"""Domain errors. The CLI maps each to a message and exit code in one place; the core never exits."""

from __future__ import annotations


class VaultCRMError(Exception):
    """A refusal or invalid input: the user sees the message, the command exits 1, nothing is written."""

    exit_code = 1

    def __init__(self, message: str, *, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


class ConfigError(VaultCRMError):
    def __init__(self, diagnostic):
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


class NotFoundError(VaultCRMError):
    pass


class ConflictError(VaultCRMError):
    """A booking clash or a rule (allergy, no-shows, transition) refusing the change."""


class ConcurrentChangeError(VaultCRMError):
    """The note was saved by someone else (Obsidian, say) between our read and our write."""
