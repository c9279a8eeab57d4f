"""What every place's target shares: one resource document (an NSG, a route table, a rule collection group)
named `azure:/subscriptions/...` or kept in a local JSON file, read with one-line errors, written back to the
file under a lock only if its bytes have not moved since the read.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from egress.adapters.files import write_atomic
from egress.errors import ConflictError, TargetError, UsageError

MAX_DOCUMENT_BYTES = 32 * 1024 * 1024  # a full NSG (1,000 rules x 4,000 prefixes) is a few MB
AZURE_SCHEME = "azure:"
FILE_SCHEME = "file:"
POLL_ENV = "EGRESS_POLL_INTERVAL"
# Seconds between long-running-operation polls when Azure sends no Retry-After (the SDK's own default is 30).
DEFAULT_POLL_INTERVAL = 2.0


class StaleTargetError(ConflictError):
    """The resource changed between our read and our write; nothing was written."""


def poll_interval() -> float:
    raw = os.environ.get(POLL_ENV)
    if not raw:
        return DEFAULT_POLL_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"${POLL_ENV}={raw!r} is not a number of seconds.") from None
    if not 0 <= value < math.inf:  # NaN and inf too: time.sleep refuses them
        raise UsageError(f"${POLL_ENV}={raw!r}: give a finite number of seconds, 0 or more.")
    return value


def read_document_bytes(path: Path, *, what: str = "NSG") -> bytes:
    """The file's bytes, at most MAX_DOCUMENT_BYTES + 1 (so /dev/zero or a huge file fails with a message);
    `what` names the resource the file holds, for the messages."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise TargetError(f"{path}: no such file; check the {what} path.") from None
    except IsADirectoryError:
        raise TargetError(f"{path}: is a directory; pass the {what}'s JSON file.") from None
    except PermissionError:
        raise TargetError(f"{path}: permission denied; check the file's permissions.") from None
    except OSError as exc:
        raise TargetError(f"{path}: cannot read ({exc.strerror or exc}).") from None
    return data


def load_document_json(data: bytes, *, source: str, what: str = "NSG") -> Any:
    """The JSON value of an NSG (or `what`) file, with one-line errors for what is not JSON text."""
    noun = "an NSG" if what == "NSG" else f"a {what}"
    if len(data) > MAX_DOCUMENT_BYTES:
        raise TargetError(
            f"{source}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB; not {noun} document."
        )
    try:
        text = data.decode("utf-8-sig")  # az on Windows may write a BOM
    except UnicodeDecodeError:
        raise TargetError(f"{source}: not UTF-8 text; save the {what} as JSON.") from None
    if not text.strip():
        how = (
            "with `az network nsg show -o json`"
            if what == "NSG"
            else "as JSON (a REST GET or az's `show -o json`)"
        )
        raise TargetError(f"{source}: empty file; save the {what} {how}.")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TargetError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
        ) from None
    except RecursionError:
        raise TargetError(f"{source}: JSON nested too deeply; not {noun} document.") from None
    return obj


class LockedFile:
    """A document kept in a local file: subclasses read it; `_replace` writes it back if it is unchanged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        self._reads = 0
        self._writes = 0

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        real = Path(os.path.realpath(self.path))  # one lock per file, whichever link names it
        lock = real.with_name(real.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise TargetError(f"{lock}: cannot create the lock file ({exc.strerror or exc}).") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _replace(self, token: str, text: str) -> None:
        """Write `text` over the file if it still holds the bytes read (sha256 `token`); else StaleTargetError."""
        with self._locked():
            try:
                current = hashlib.sha256(self.path.read_bytes()).hexdigest()
            except OSError as exc:
                raise TargetError(
                    f"{self.path}: cannot re-read before writing ({exc.strerror or exc})."
                ) from None
            if current != token:
                raise StaleTargetError(f"{self.path} changed since it was read; re-reading and re-planning.")
            write_atomic(self.path, text)
            self._writes += 1

    def request_counts(self) -> dict[str, int]:
        return {"read": self._reads, "write": self._writes}

    def close(self) -> None:
        pass
