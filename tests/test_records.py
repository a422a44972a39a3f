"""Bibliographic records: what a sidecar or a file name may put into titles and names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus_search.records import load_record

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ["\x1b]0;pwned\x07", "\x1b[2K\r", "\u202eevil\u202c", "\x00", "\x9b31m", "line\nbreak"]


@pytest.mark.parametrize("junk", HOSTILE)
def test_record_fields_are_one_line_of_printable_text(tmp_path, junk):
    """A title or name with terminal escapes or bidi overrides would rewrite the terminal or reorder the text."""
    (tmp_path / "a.txt").write_text("Some text.\n", encoding="utf-8")
    q = json.dumps  # a JSON string (\u001b escapes) is a valid TOML basic string
    (tmp_path / "a.toml").write_text(
        f"title = {q(f'Gas {junk} deals')}\nauthors = [{q(f'Li {junk} Wei')}, {q(junk)}]\n"
        f"publisher = {q(f'EUISS{junk}')}\nyear = 2016\npassword = {q(f'p{junk}w')}\n", encoding="utf-8")
    record = load_record(tmp_path / "a.txt", tmp_path)
    shown = [record.title, *record.authors, record.publisher]
    for field in shown:
        assert field.isprintable(), repr(field)
        assert not any(0x202A <= ord(c) <= 0x202E for c in field), repr(field)
    assert record.title.startswith("Gas ") and record.title.endswith(" deals")
    assert record.authors[0].startswith("Li ") and len(record.authors) == 1 + bool(record.authors[1:])
    assert record.password == f"p{junk}w"  # a password is used, never shown: kept exactly


def test_a_title_guessed_from_a_hostile_file_name_is_printable(tmp_path):
    source = tmp_path / "report\x1b]0;pwned\x07_2016.txt"
    source.write_text("Some text.\n", encoding="utf-8")
    record = load_record(source, tmp_path)
    assert record.guessed and record.title.isprintable() and "report" in record.title and "2016" in record.title


def test_the_bundled_records_read_as_before():
    titles = {load_record(p, ROOT / "corpus").title for p in (ROOT / "corpus").glob("*.txt")}
    assert "China and Russia: an Eastern partnership in the making?" in titles
