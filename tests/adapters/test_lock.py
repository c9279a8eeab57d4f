from __future__ import annotations

import threading
from pathlib import Path

import pytest

from egress.adapters.lock import exclusive_lock
from egress.errors import LockError


def test_second_holder_is_refused_at_once_with_the_holder_named(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "refresh.lock"
    with exclusive_lock(path):
        with pytest.raises(LockError) as info, exclusive_lock(path):
            pass
        message = str(info.value)
        assert message.startswith("another egress refresh is running (pid ")
        assert str(path) in message and "--lock-timeout" in message and "\n" not in message
    with exclusive_lock(path):  # released on exit; the file stays
        assert path.exists()


def test_waiting_holder_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    path = tmp_path / "refresh.lock"
    waiting = threading.Event()
    release = threading.Event()
    got: list[bool] = []

    def holder() -> None:
        with exclusive_lock(path):
            waiting.wait(60)
            release.wait(60)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        while not path.exists() or not path.read_text():
            threading.Event().wait(0.01)
        told: list[str] = []

        def say(message: str) -> None:
            told.append(message)
            waiting.set()
            release.set()  # let the holder go as soon as we announce we are waiting

        with exclusive_lock(path, timeout=60, waiting=say):
            got.append(True)
        assert got and len(told) == 1 and "waiting up to 60s" in told[0]
    finally:
        waiting.set()
        release.set()
        thread.join(10)


def test_timeout_expires_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "refresh.lock"
    with (
        exclusive_lock(path),
        pytest.raises(LockError, match=r"after waiting 0.2s"),
        exclusive_lock(path, timeout=0.2),
    ):
        pass


def test_unwritable_folder_is_a_lock_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with (
        pytest.raises(LockError, match="cannot create the lock file"),
        exclusive_lock(blocker / "refresh.lock"),
    ):
        pass
