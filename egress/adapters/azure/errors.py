"""Errors the Azure adapter raises, beyond the plain ones in egress.errors."""

from __future__ import annotations

from egress.errors import AzureError, ConflictError


class AzureApiError(AzureError):
    """Azure refused or failed a request.

    `code` is Azure's error code (e.g. SecurityRuleConflict) and `status` the HTTP status, when known.
    """

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class PreconditionFailedError(ConflictError):
    """HTTP 412: the NSG changed since it was read (its etag no longer matches).

    Nothing was written. Callers read the NSG again, re-plan against what is there now, and try again.
    """

    def __init__(self, message: str, *, etag: str | None = None) -> None:
        super().__init__(message)
        self.etag = etag  # the etag that no longer matched
