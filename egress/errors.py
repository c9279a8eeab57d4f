"""One error hierarchy. Every message says what went wrong and what to do about it."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CHANGES = 3  # changes pending (dry run with --detailed-exitcode) or applied
    REFUSED = 4  # a safety check refused the operation


class EgressError(Exception):
    """Base of every error egress reports to the user as a one-line message."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(EgressError):
    """An option or argument is wrong (bad value, bad combination)."""

    exit_code = ExitCode.USAGE


class DataError(EgressError):
    """A service-tag file (or other input file) is missing, unreadable or malformed."""


class UnknownTagError(DataError):
    """A service tag or region is not in the data."""


class FetchError(EgressError):
    """Downloading or querying the service-tag data failed."""


class RuleError(EgressError):
    """The requested rules cannot be built or break an Azure limit."""


class TargetError(EgressError):
    """An NSG target cannot be read or written."""


class AzureError(TargetError):
    """The Azure API refused or failed a request."""


class ConflictError(TargetError):
    """The target changed under us too many times, or rules collide with rules egress does not own."""


class SafetyError(EgressError):
    """A safety check refused the operation (too many deletes, shrinking data, ...)."""

    exit_code = ExitCode.REFUSED


class LockError(EgressError):
    """Another egress run holds the lock."""


class OutputError(EgressError):
    """A generated file cannot be written (folder missing, not writable, disk full)."""
