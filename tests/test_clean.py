"""Cleaning a user would notice: unicode as printed, hyphenation undone, markers lifted."""

from __future__ import annotations

import pytest

from corpus_search.clean import NOTE_OPEN, HyphenJudge, MarkerTracker, normalize
from tests.test_passages import ARTICLE, CHAILLOT, split


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ﬁnancial ﬂows", "financial flows"),  # ligatures
        ("Sino\u2011Russian", "Sino\u2011Russian"),  # NFKC would make this U+2010
        ("‘quiet’ “fronts”", "‘quiet’ “fronts”"),
        ("countries´ relations", "countries´ relations"),  # NFKC would split the accent off
        ("and so on…", "and so on…"),
        ("a\x00b\x07c\ue000d\u00ade", "abcde"),  # NUL, controls, private use, soft hyphen
        ("line\r\nnext\fpage", "line\nnext\npage"),
        ("ＡＢＣ", "ABC"),
    ],
)
def test_normalize(raw: str, clean: str) -> None:
    assert normalize(raw) == clean


@pytest.mark.parametrize("name", [CHAILLOT, ARTICLE])
@pytest.mark.parametrize("broken", ["Chi- na", "Chi-na ", "Rus-sia", "Rus- sia", "im-portant", "ea-ger", "Ini-tiative"])
def test_no_broken_words(name: str, broken: str) -> None:
    assert broken not in split(name).text


@pytest.mark.parametrize(
    "word",
    ["Sino-friendly", "Soviet-Chinese brotherhood", "eager to reciprocate", "Russia’s eastward pivot", "programmatic",
     "postponed", "US-China security tensions", "Russian-Western relations"],
)  # fmt: skip
def test_chaillot_hyphenation(word: str) -> None:
    assert word in split(CHAILLOT).text


def test_hyphen_stats_are_counted() -> None:
    stats = split(CHAILLOT).stats
    assert stats["hyphen_joined"] > 200 and 1 <= stats["hyphen_kept"] < 20


@pytest.mark.parametrize(
    ("left", "right", "join"),
    [
        ("Chi", "na", True),  # "China" is attested
        ("Sino", "friendly", False),  # "Sino-" is a prefix the text uses, "friendly" a word
        ("Soviet", "Chinese", False),  # capital after the break
        ("man", "ifest", True),
        ("deepen", "ing", True),
        ("high", "level", False),
    ],
)
def test_hyphen_judge(left: str, right: str, join: bool) -> None:
    judge = HyphenJudge(["China and Sino-Russian ties", "a friendly high level of trust", "high"])
    assert judge.join(left, right) is join


@pytest.mark.parametrize(
    ("lines", "lifted"),
    [
        (["with Pakistan.1 Russia", "uproot US hegemony.’2 Either"], ["1", "2"]),
        (["Sinopec’s $1.3 billion", "in 2014. Then", "the G20 summit", "Su-35 attack"], []),
        (["sanctions.2 European", "the EU.3 For", "Soviet Union4 In other"], ["2", "3", "4"]),
        (["the G8 membership.1 And"], ["1"]),
        # Quarters and codes counting up like notes: one letter and a number are one code.
        (["from the fourth quarter (Q4) of 2024 to Q1 of 2025", "in Q2 of 2025, then from Q2 to Q3 of 2025",
          "the G7 and H2 2026 figures"], []),
        (["in Q1 of 2025 the Union1 said", "the E.U.2 and"], ["1", "2"]),
        # Bracketed markers glued to the text; a bracketed year or a spaced "[3]" is no note.
        (["debt[1] rose", "held abroad.[2] Then", "in [3] a", "see [2027] and"], ["1", "2"]),
        # After a number that ends a sentence: the note number goes on with a capital after it
        # ("as of April 1.38 A prolonged closure", R48903); a decimal goes on in small letters.
        ([f"note{n}" for n in range(1, 38)] + ["had not departed as of April 1.38 A prolonged closure"],
         [str(n) for n in range(1, 39)]),
        ([f"note{n}" for n in range(1, 38)] + ["output rose 22.38 percent. Then 3.038 The"],
         [str(n) for n in range(1, 38)]),
    ],
)
def test_markers_follow_the_note_sequence(lines: list[str], lifted: list[str]) -> None:
    tracker = MarkerTracker()
    for line in lines:
        tracker.lift(line)
    assert tracker.seen == lifted


def test_marker_becomes_a_sentinel_in_place() -> None:
    text, count = MarkerTracker().lift("with Pakistan.1 Russia")
    assert count == 1 and text == f"with Pakistan.{NOTE_OPEN}1\ue001 Russia"


def test_bidi_controls_are_dropped():
    from corpus_search.clean import normalize

    assert normalize("evil\u202etxt.exe\u202c and \u2066isolated\u2069") == "eviltxt.exe and isolated"


@pytest.mark.parametrize(
    ("line", "number"),
    [("1. Feng Zhongping", "1"), ("1 United Nations", "1"), ("[1] Feng Zhongping", "1"), ("[12]Treasury data", "12"),
     ("1] unopened", None), ("[1 unclosed", None), ("[1. mixed", None), ("1.5 million", None), ("2014 was", None)],
)
def test_a_note_starts_with_its_number_bare_or_in_brackets(line: str, number: str | None) -> None:
    from corpus_search.clean import FOOTNOTE_START

    match = FOOTNOTE_START.match(line)
    assert (match.group(1) if match else None) == number
