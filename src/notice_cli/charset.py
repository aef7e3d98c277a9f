"""The character classes of the values notice-spool checks, and the one test against them.

str methods rather than regular expressions: the dialplan starts notice-spool on every notice,
and importing ``re`` takes longer than the rest of its job (README, "Speed").
"""

from __future__ import annotations

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORD = LETTERS + DIGITS + "_"  # what \w is in ASCII
NAME = WORD + ".-"  # a file name without '/', such as a recording's or a user's


def made_of(text: str, allowed: str, least: int = 1, most: int | None = None) -> bool:
    """Whether TEXT is LEAST to MOST (no limit: None) characters, each one of ALLOWED."""
    # strip() takes away every leading and trailing character of ALLOWED: nothing is left
    # only if every character is one of them.
    return least <= len(text) <= (len(text) if most is None else most) and not text.strip(allowed)


def is_name(text: str, most: int) -> bool:
    """Whether TEXT is a name of NAME's characters, 1 to MOST of them, that starts with none of
    '.' and '-' (a hidden file, an option): a recording's, a user's."""
    return made_of(text[:1], WORD) and made_of(text, NAME, 1, most)
