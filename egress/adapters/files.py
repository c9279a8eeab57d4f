"""The one place egress writes generated files: atomically, and only when the content changed."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from egress.core.values import safe_name
from egress.errors import OutputError, UsageError

DEFAULT_MODE = 0o666  # before the umask, like any file a program creates
# write_atomic's temp files: `.<target name>.<mkstemp's 8 characters>.tmp`, locked while being written.
TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")
# A write takes well under a second; a temp file this old was left by a process that died (kill -9, power loss).
STALE_TEMP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class WriteResult:
    path: Path
    changed: bool


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _why(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def _same_content(path: Path, data: bytes) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
        return False
    return path.read_bytes() == data


def write_atomic(path: str | os.PathLike[str], data: bytes | str, mode: int | None = None) -> bool:
    """Write `data` to `path` via a temp file in the same folder, fsync and rename; False if it was already so.

    Readers never see a half-written file, and an unchanged file keeps its timestamp. `mode` None keeps the mode of
    an existing file, else uses 0666 minus the umask. A symbolic link stays one: the file it points to is written.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if target.is_symlink():  # write the file the link points to; renaming over the link would replace it
            target = Path(os.path.realpath(target))
        if _same_content(target, payload):
            if mode is not None and stat.S_IMODE(target.stat().st_mode) != mode:
                os.chmod(target, mode)
                return True
            return False
        if mode is None:
            try:
                mode = stat.S_IMODE(target.stat().st_mode)
            except FileNotFoundError:
                mode = DEFAULT_MODE & ~_umask()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # tells remove_stale_temps a live writer holds it
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {_why(exc)}.") from None
    return True


def remove_stale_temps(
    folder: Path,
    targets: re.Pattern[str],
    *,
    older_than: float = STALE_TEMP_SECONDS,
    now: float | None = None,
) -> list[Path]:
    """Delete write_atomic's temp files in `folder` that a dead process left behind; returns what went.

    Only names of write_atomic's pattern whose target name `targets` matches in full, only regular files older
    than `older_than` seconds, and only when no process holds the file's lock (a live writer does). Housekeeping:
    anything unexpected is left alone.
    """
    removed: list[Path] = []
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_NAME.fullmatch(entry.name)
        if match is None or not targets.fullmatch(match.group("target")):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < older_than:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a live writer holds it
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            finally:
                os.close(fd)
    return removed


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse to open a folder for this, which is harmless.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_out_dir(out_dir: Path) -> None:
    """The folder must be (or be creatable as) a writable directory."""
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise UsageError(
                f"--out {out_dir} is a file, not a folder: give a folder to write the files into."
            )
        existing = out_dir
        while not existing.exists():
            if existing.parent == existing:
                break
            existing = existing.parent
        if not existing.is_dir():
            raise UsageError(f"--out {out_dir}: {existing} is a file, not a folder: give another folder.")
    except OSError as exc:  # a name too long, a folder that cannot be searched, ...
        raise UsageError(f"--out {out_dir}: {_why(exc)}; give another folder.") from None
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"folder {existing} is not writable: choose another --out or fix its permissions.")


def write_bundle(
    out_dir: str | os.PathLike[str],
    files: Mapping[str, str],
    modes: Mapping[str, int] | None = None,
) -> list[WriteResult]:
    """Write a set of generated files into `out_dir`, each only if it changed.

    Everything is checked before the first write (folder usable, every name safe, no name taken by a folder),
    so a bad call leaves nothing half-written. Results come back in the order of `files`.
    """
    folder = Path(out_dir)
    modes = dict(modes or {})
    names = [safe_name(name) for name in files]
    unknown = sorted(set(modes) - set(names))
    if unknown:
        raise UsageError(f"file modes given for files not in the bundle: {', '.join(unknown)}.")
    _check_out_dir(folder)
    for name in names:
        target = folder / name
        try:
            taken = target.exists() and not target.is_file()
        except OSError as exc:
            raise UsageError(f"--out {folder}: {target}: {_why(exc)}; give another folder.") from None
        if taken:
            raise UsageError(f"{target} exists and is not a file: move it away or choose another --out.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {folder}: {_why(exc)}.") from None
    return [
        WriteResult(folder / name, write_atomic(folder / name, files[name], modes.get(name)))
        for name in names
    ]


MAX_LIST_BYTES = 1024 * 1024  # a host-name list is a few KB; refuse to slurp anything huge


def read_text(path: Path, *, what: str) -> str:
    """Read a small UTF-8 input file with one-line errors a user can act on.

    At most MAX_LIST_BYTES (+1 to notice more) is read, so a device such as /dev/zero fails with a message.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_LIST_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist: check the path.") from None
    except IsADirectoryError:
        raise UsageError(f"{what} {path} is a folder: give a file.") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {_why(exc)}.") from None
    if len(data) > MAX_LIST_BYTES:
        raise UsageError(f"{what} {path} is over {MAX_LIST_BYTES} bytes: that is not a list of host names.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path} is not UTF-8 text.") from None
