"""The shared pieces of the host contract: output truncation and command results."""

from __future__ import annotations

from lockstep.targets.host import CommandResult, OutputTail, truncate_output


def test_short_output_is_kept_whole() -> None:
    assert truncate_output(b"hello\nworld\n", 100) == "hello\nworld\n"


def test_truncation_keeps_the_tail_and_says_how_much_was_cut() -> None:
    data = b"".join(f"line {i}\n".encode() for i in range(1000))
    out = truncate_output(data, 20)
    dropped = len(data) - 20
    assert out.startswith(f"[... {dropped} bytes truncated]\n")
    assert out.endswith("line 999\n")
    assert out.removeprefix(f"[... {dropped} bytes truncated]\n").encode() == data[-20:]


def test_tail_buffer_fed_in_chunks_matches_one_shot() -> None:
    tail = OutputTail(7)
    for chunk in (b"abc", b"defgh", b"", b"ijklmnop"):
        tail.feed(chunk)
    assert tail.total == 16
    assert tail.text() == truncate_output(b"abcdefghijklmnop", 7) == "[... 9 bytes truncated]\njklmnop"


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert truncate_output(b"ok \xff\xfe", 100) == "ok \ufffd\ufffd"


def test_result_ok_needs_zero_exit_and_no_timeout() -> None:
    assert CommandResult("true", 0, "", 0.1, False).ok
    assert not CommandResult("false", 1, "", 0.1, False).ok
    assert not CommandResult("sleep 9", -1, "", 1.0, True).ok
