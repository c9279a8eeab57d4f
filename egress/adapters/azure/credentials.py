"""Map `--auth` to an azure-identity credential (imported only when one is made)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from egress.errors import UsageError

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential

# --auth value -> what it uses. `cli` takes its cloud from `az cloud set`, `managed-identity` from the VM.
AUTH_METHODS: dict[str, str] = {
    "default": "DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI, ...",
    "cli": "AzureCliCredential: the account `az login` signed in",
    "environment": "EnvironmentCredential: AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret or certificate",
    "managed-identity": "ManagedIdentityCredential: the VM's identity (AZURE_CLIENT_ID: a user-assigned one)",
}


def make_credential(auth: str, authority: str) -> TokenCredential:
    """A credential for `auth` (default | cli | environment | managed-identity) against `authority` (a host).

    Nothing is contacted until the first token is requested.
    """
    key = auth.strip().lower()
    if key not in AUTH_METHODS:
        raise UsageError(f"unknown --auth {auth!r}: use one of {', '.join(AUTH_METHODS)}.")
    _quiet_sdk_logs()
    import azure.identity as identity

    if key == "default":
        return identity.DefaultAzureCredential(authority=authority)
    if key == "cli":
        return identity.AzureCliCredential()
    if key == "environment":
        return identity.EnvironmentCredential(authority=authority)
    return identity.ManagedIdentityCredential()


def _quiet_sdk_logs() -> None:
    """Keep the Azure SDK's log records off stderr: egress reports what failed in its own one line.

    azure-identity logs every credential it tried at WARNING, several lines each; with no handler configured,
    Python's last-resort handler would print them on stderr above egress's `Error: ...` line.
    """
    logger = logging.getLogger("azure")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


# Renew a cached token this many seconds before it expires (azure-core's own policy renews 300 s early too).
TOKEN_REFRESH_MARGIN = 300.0


class SharedCredential:
    """One sign-in for a whole run: wraps a TokenCredential and hands every SDK client the same token.

    azure-core caches a token per client, and AzureCliCredential caches nothing (each token is an `az` process,
    about a second), so a fleet of N NSGs would sign in N times. Here each token — per scopes, tenant, claims
    and CAE — is fetched once and reused until `margin` seconds before it expires. Thread-safe: threads that
    ask for the same token at once wait for one fetch. `calls` counts the requests that reached `inner`.
    """

    def __init__(
        self,
        inner: TokenCredential,
        *,
        margin: float = TOKEN_REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inner = inner
        self.calls = 0
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._tokens: dict[tuple[Any, ...], tuple[AccessToken, float]] = {}

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        key = (tuple(sorted(scopes)), claims, tenant_id, enable_cae)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            cached = self._tokens.get(key)
            if cached is not None and self._fresh(*cached):
                return cached[0]
            extra = {"claims": claims, "tenant_id": tenant_id, "enable_cae": enable_cae or None}
            kwargs.update({k: v for k, v in extra.items() if v})
            fetched_at = self._clock()
            token = self.inner.get_token(*scopes, **kwargs)
            with self._lock:
                self.calls += 1
            self._tokens[key] = (token, fetched_at)
            return token

    def _fresh(self, token: AccessToken, fetched_at: float) -> bool:
        # A token issued with less than `margin` to live is kept for half its life rather than refetched per call.
        margin = min(self._margin, max(0.0, (token.expires_on - fetched_at) / 2))
        return token.expires_on - self._clock() > margin

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()
