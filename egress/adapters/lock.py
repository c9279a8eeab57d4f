"""An exclusive lock between egress processes: `flock` on a file, released by the kernel if the holder dies.

The lock file is never deleted (deleting it would let a third process lock a new file while the second still
holds the old one); it carries the holder's pid and start time for the message a waiting run prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from egress.errors import LockError

POLL_SECONDS = 0.1


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""


@contextlib.contextmanager
def exclusive_lock(
    path: Path,
    *,
    timeout: float = 0.0,
    what: str = "egress refresh",
    waiting: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold `path` locked for the block. Waits up to `timeout` seconds (0: not at all), then raises LockError.

    `waiting` is called once with a message when the lock is busy and the call is going to wait.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LockError(
            f"cannot create the lock file {path} ({exc.strerror or exc}); set EGRESS_CACHE_DIR to a writable folder."
        ) from None
    try:
        deadline = time.monotonic() + max(timeout, 0.0)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
                    raise LockError(
                        f"another {what} is running{_holder(fd)}{waited}; lock file {path}. "
                        "Let it finish, or pass --lock-timeout SECONDS to wait for it."
                    ) from None
                if waiting is not None and not told:
                    waiting(f"another {what} is running{_holder(fd)}; waiting up to {timeout:g}s for it")
                    told = True
                time.sleep(POLL_SECONDS)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, since {stamp}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
