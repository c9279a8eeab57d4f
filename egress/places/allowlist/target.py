"""Where an allow-list goes: file names, the one atomic write (only when the content changed), the `after` hook."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from egress.adapters.files import WriteResult, write_atomic
from egress.errors import OutputError, UsageError
from egress.places.allowlist import limits
from egress.places.allowlist.formats import Format
from egress.places.allowlist.model import ExportSet

PATH_PLACEHOLDER = "{path}"
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


def _family_path(path: Path, version: int) -> Path:
    return path.with_name(f"{path.stem}-ipv{version}{path.suffix}")


def plan_files(
    fmt: Format, export: ExportSet, out: str | None, *, per_family: bool
) -> list[tuple[Path | None, ExportSet]]:
    """(path, export) per file: `out` a folder (existing, or written with a trailing `/`) gets `<name><suffix>`;
    otherwise `out` is the file. A file per family adds `-ipv4`/`-ipv6` before the suffix. No `out`: stdout."""
    parts = [export.only(v) for v in export.versions] if per_family else [export]
    if out is None:
        return [(None, part) for part in parts]
    if not out.strip():
        raise UsageError("--out is empty: give a file or folder to write, or leave --out out to print.")
    base = Path(out)
    if out.endswith(("/", os.sep)) or base.is_dir():
        base = base / f"{export.name}{fmt.suffix}"
    if not per_family:
        return [(base, export)]
    return [(_family_path(base, part.versions[0]), part) for part in parts]


def write_files(files: Sequence[tuple[Path, str]]) -> list[WriteResult]:
    """Write each file atomically, only if changed; every folder is checked before the first write."""
    for path, _ in files:
        folder = path.parent
        if not folder.is_dir():
            raise OutputError(f"cannot write {path}: folder {folder} does not exist.")
        if path.exists() and not path.is_file():
            raise OutputError(f"cannot write {path}: it exists and is not a file.")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {path}: folder {folder} is not writable.")
    return [WriteResult(path, write_atomic(path, text)) for path, text in files]


def check_hook(argv: object, where: str) -> tuple[str, ...]:
    """An argv list (never a shell string); `{path}` is the one placeholder, any other `{word}` is a typo."""
    if isinstance(argv, str) or not isinstance(argv, list) or not argv:
        raise UsageError(
            f'{where}: `after` must be a list of words, e.g. ["nft", "-f", "{{path}}"] (no shell string).'
        )
    if not all(isinstance(word, str) and word for word in argv):
        raise UsageError(f"{where}: every word of `after` must be a non-empty string.")
    if any("\0" in word for word in argv):  # no program can receive it: exec refuses the whole command
        raise UsageError(f"{where}: a word of `after` holds a NUL byte; a command line cannot carry one.")
    for word in argv:
        for found in _PLACEHOLDER.findall(word):
            if found != PATH_PLACEHOLDER:
                raise UsageError(f"{where}: `after` has {found}; {PATH_PLACEHOLDER} is the only placeholder.")
    return tuple(argv)


def check_timeout(value: object, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= limits.MAX_HOOK_TIMEOUT
    ):
        raise UsageError(f"{where}: `after_timeout` must be 1-{limits.MAX_HOOK_TIMEOUT:g} seconds.")
    return float(value)


def run_hook(argv: Sequence[str], path: Path, timeout: float) -> str | None:
    """Run the hook with `{path}` replaced; None when it succeeded, else a one-line reason. On timeout the whole
    process group is killed (a reload script's children too)."""
    words = [word.replace(PATH_PLACEHOLDER, str(path)) for word in argv]
    shown = shlex.join(words)
    try:
        proc = subprocess.Popen(
            words,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return f"hook `{shown}` could not start: {exc.strerror or exc}"
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return f"hook `{shown}` did not finish within {timeout:g} s and was killed"
    if proc.returncode != 0:
        text = " ".join(err.decode("utf-8", "replace").split())[: limits.HOOK_OUTPUT_SHOWN]
        return f"hook `{shown}` exited {proc.returncode}" + (f": {text}" if text else "")
    return None
