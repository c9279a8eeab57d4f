from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from egress.adapters.files import WriteResult, read_text, write_atomic, write_bundle
from egress.errors import EgressError, OutputError, UsageError


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_atomic_creates_then_leaves_identical_content_alone(tmp_path: Path) -> None:
    target = tmp_path / "squid.conf"
    assert write_atomic(target, "a\n") is True
    assert target.read_text() == "a\n"
    before = target.stat()
    assert write_atomic(target, b"a\n") is False
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert write_atomic(target, "b\n") is True
    assert target.read_text() == "b\n"
    assert target.stat().st_ino != before.st_ino  # replaced by rename, never rewritten in place
    assert _listing(tmp_path) == ["squid.conf"]  # no temp file left behind


def test_write_atomic_modes(tmp_path: Path) -> None:
    target = tmp_path / "apply.sh"
    write_atomic(target, "x", mode=0o755)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert write_atomic(target, "y") is True
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # an existing file keeps its mode
    assert write_atomic(target, "y", mode=0o700) is True  # same content, new mode: only the mode changes
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_write_atomic_default_mode_follows_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "f", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o640


def test_write_atomic_reports_os_errors_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"^cannot write .*missing/f: No such file or directory\.$"):
        write_atomic(tmp_path / "missing" / "f", "x")


def test_write_bundle_writes_only_changes(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    files = {"b.conf": "b\n", "a.sh": "#!/bin/sh\n"}
    first = write_bundle(out, files, {"a.sh": 0o755})
    assert first == [WriteResult(out / "b.conf", True), WriteResult(out / "a.sh", True)]
    assert stat.S_IMODE((out / "a.sh").stat().st_mode) == 0o755
    second = write_bundle(out, {**files, "b.conf": "B\n"}, {"a.sh": 0o755})
    assert second == [WriteResult(out / "b.conf", True), WriteResult(out / "a.sh", False)]


def test_write_bundle_refuses_a_file_as_out_dir(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("keep")
    with pytest.raises(UsageError, match=r"^--out .* is a file, not a folder"):
        write_bundle(out, {"a": "x"})
    assert out.read_text() == "keep"


def test_write_bundle_refuses_a_file_in_the_parent_chain(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        write_bundle(tmp_path / "f" / "sub", {"a": "x"})


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "x\n", ""])
def test_write_bundle_validates_every_name_before_writing(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        write_bundle(tmp_path / "out", {"good.conf": "x", name: "y"})
    assert not (tmp_path / "out").exists()
    assert _listing(tmp_path) == []


def test_write_bundle_refuses_a_folder_where_a_file_goes(tmp_path: Path) -> None:
    (tmp_path / "b.conf").mkdir()
    with pytest.raises(UsageError, match="is not a file"):
        write_bundle(tmp_path, {"a.conf": "x", "b.conf": "y"})
    assert not (tmp_path / "a.conf").exists()  # nothing half-written


def test_write_bundle_refuses_modes_for_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not in the bundle: other"):
        write_bundle(tmp_path, {"a": "x"}, {"other": 0o755})


def test_write_bundle_refuses_an_unwritable_folder(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write into any folder, so permissions cannot be tested as root")
    out = tmp_path / "ro"
    out.mkdir(mode=0o555)
    try:
        with pytest.raises(OutputError, match="is not writable"):
            write_bundle(out, {"a": "x"})
    finally:
        out.chmod(0o755)


def test_read_text_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        read_text(tmp_path / "nope", what="FQDN list")
    with pytest.raises(UsageError, match="is a folder"):
        read_text(tmp_path, what="FQDN list")
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_text(tmp_path / "bin", what="FQDN list")
    (tmp_path / "ok").write_text("a.example.com\n")
    assert read_text(tmp_path / "ok", what="FQDN list") == "a.example.com\n"


def test_errors_are_egress_errors() -> None:
    assert issubclass(OutputError, EgressError)


def test_write_bundle_checks_writability_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs as root too (where real permissions never refuse): the folder's access check is what is exercised.
    import egress.adapters.files as files_module

    monkeypatch.setattr(files_module.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(OutputError, match=rf"^folder {tmp_path} is not writable: choose another --out"):
        write_bundle(tmp_path / "sub", {"a": "x"})
    assert _listing(tmp_path) == []


# --- stale temp files (issue 15: `kill -9` mid-write left `.ServiceTags_*.tmp` files forever) -------------------


def test_stale_temp_files_of_egress_are_removed_and_nothing_else(tmp_path: Path) -> None:
    import fcntl
    import os
    import re
    import time

    from egress.adapters.files import remove_stale_temps

    old = time.time() - 2 * 3600
    names = {
        "stale": ".ServiceTags_Public_20250127.json.ab12cd_3.tmp",
        "stale-sidecar": ".ServiceTags_Public_20250127.meta.json.zz99yy00.tmp",
        "fresh": ".ServiceTags_Public_20250203.json.k3j4h5g6.tmp",  # a write under way right now
        "locked": ".ServiceTags_Public_20250120.json.q1w2e3r4.tmp",  # old, but a live writer holds it
        "foreign": ".notes.txt.ab12cd34.tmp",  # another program's temp file
        "not-a-temp": "ServiceTags_Public_20250127.json",
    }
    for key, name in names.items():
        path = tmp_path / name
        path.write_text(key)
        if key != "fresh":
            os.utime(path, (old, old))
    (tmp_path / ".ServiceTags_Public_20250113.json.dir00000.tmp").mkdir()  # not a regular file
    os.utime(tmp_path / ".ServiceTags_Public_20250113.json.dir00000.tmp", (old, old))
    holder = os.open(tmp_path / names["locked"], os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        removed = remove_stale_temps(tmp_path, re.compile(r"ServiceTags_[A-Za-z]+_\d{8}(\.meta)?\.json"))
    finally:
        os.close(holder)
    assert sorted(p.name for p in removed) == sorted([names["stale"], names["stale-sidecar"]])
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {n for k, n in names.items() if not k.startswith("stale")} | {
        ".ServiceTags_Public_20250113.json.dir00000.tmp"
    }


def test_write_atomic_holds_its_temp_file_locked_while_writing(tmp_path: Path, monkeypatch) -> None:
    import fcntl
    import os
    import re

    from egress.adapters import files

    seen: list[bool] = []
    real_fsync = os.fsync

    def probe(fd: int) -> None:
        for temp in tmp_path.glob(".out.json.*.tmp"):
            other = os.open(temp, os.O_RDONLY)
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                seen.append(False)
            except BlockingIOError:
                seen.append(True)
            finally:
                os.close(other)
            # Even when old, a temp file being written is never taken for a leftover.
            assert files.remove_stale_temps(tmp_path, re.compile(r"out\.json"), older_than=-1) == []
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", probe)
    files.write_atomic(tmp_path / "out.json", "{}\n")
    assert seen and all(seen)
    assert (tmp_path / "out.json").read_text() == "{}\n"
