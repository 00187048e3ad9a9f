"""Masking known secret values in command output (`lockstep.domain.masking`): pure, so tested
directly, with a property test that no known secret survives whatever surrounds it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lockstep.domain.masking import MASK, MIN_SECRET_LENGTH, Masker
from lockstep.targets.host import truncate_output


def test_every_occurrence_of_every_secret_is_masked() -> None:
    masker = Masker(["hunter22", "s3cr3t-token"])
    text = "login hunter22\nAuthorization: Bearer s3cr3t-token (again: hunter22)"
    assert masker.mask(text) == "login ***\nAuthorization: Bearer *** (again: ***)"


def test_a_secret_containing_another_is_masked_whole() -> None:
    masker = Masker(["abcd", "xxabcdyy"])
    assert masker.mask("xxabcdyy and abcd") == "*** and ***", "no 'xx***yy' giving half away"


def test_short_and_empty_values_are_never_masked() -> None:
    masker = Masker(["", "a", "ab", "abc"])
    assert not masker, "values under MIN_SECRET_LENGTH are no secrets worth garbling output for"
    assert masker.mask("a cab, abc") == "a cab, abc"
    assert MIN_SECRET_LENGTH == 4


def test_nothing_to_mask_and_none_pass_through() -> None:
    assert Masker(()).mask("PATH=/usr/bin") == "PATH=/usr/bin"
    assert Masker(["hunter22"]).mask(None) is None
    assert Masker(["hunter22"]).mask("") == ""


def test_the_end_of_a_secret_cut_by_truncation_is_masked_too() -> None:
    secret = "0123456789abcdef-webhook"
    # The command printed the secret; the tail kept only its last few bytes and what followed.
    output = truncate_output(f"WEBHOOK={secret}\nok\n".encode(), 13)
    assert output.endswith("ebhook\nok\n") and secret not in output
    masked = Masker([secret]).mask(output)
    assert masked.split("\n", 1)[1] == f"{MASK}\nok\n"
    assert "ebhook" not in masked


SECRET_CHARS = st.characters(exclude_characters="*", exclude_categories=["Cs"])


@given(
    secret=st.text(SECRET_CHARS, min_size=MIN_SECRET_LENGTH, max_size=30),
    before=st.text(SECRET_CHARS, max_size=40),
    after=st.text(SECRET_CHARS, max_size=40),
)
def test_no_known_secret_survives_masking(secret: str, before: str, after: str) -> None:
    masked = Masker([secret]).mask(before + secret + after + secret)
    assert secret not in masked
    assert MASK in masked
