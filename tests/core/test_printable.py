from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from egress.cli.streams import PrintableStream
from egress.core.printable import printable


def test_escapes_what_drives_a_terminal() -> None:
    assert (
        printable("a\x1b[2Jb\x1b]0;t\x07\r\x85\u202ec\td\n")
        == "a\\x1b[2Jb\\x1b]0;t\\x07\\x0d\\x85\\u202ec\td\n"
    )


@given(st.text())
def test_nothing_controlling_survives_and_plain_text_is_untouched(text: str) -> None:
    out = printable(text)
    assert all(ch in "\t\n" or (ch >= " " and not "\x7f" <= ch <= "\x9f") for ch in out if ord(ch) < 0x100)
    assert "\u202e" not in out
    if out == text:
        assert printable(out) == out


def test_stream_escapes_and_refuses_bytes() -> None:
    sink = io.StringIO()
    stream = PrintableStream(sink)
    assert stream.write("x\x1by\n") == 4
    assert sink.getvalue() == "x\\x1by\n"
    try:
        stream.write(b"x")  # click probes with bytes to find a text stream: it must look like text
    except TypeError:
        pass
    else:
        raise AssertionError("bytes accepted")
