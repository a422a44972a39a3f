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


def _unblock_fifo_later(fifo, seconds: float):
    """Opens `fifo` for writing after `seconds` (then closes it): code that blocks reading it ends, and its test fails."""
    import os
    import threading

    def later():
        if not done.wait(seconds):
            fd = os.open(fifo, os.O_RDWR)  # never blocks, even with no reader
            os.close(fd)
    done = threading.Event()
    threading.Thread(target=later, daemon=True).start()
    return done


def test_a_record_that_is_a_fifo_fails_at_once_instead_of_hanging(tmp_path):
    import os
    import time

    from corpus_search.errors import SourceError
    (tmp_path / "stuck.txt").write_text("Text of the stuck source.\n", encoding="utf-8")
    os.mkfifo(tmp_path / "stuck.toml")
    done = _unblock_fifo_later(tmp_path / "stuck.toml", 5)
    started = time.monotonic()
    try:
        with pytest.raises(SourceError, match=r"its record stuck\.toml is not a regular file"):
            load_record(tmp_path / "stuck.txt", tmp_path)
    finally:
        done.set()
    assert time.monotonic() - started < 4


def test_a_record_linked_to_a_device_or_too_big_fails_with_one_line(tmp_path):
    from corpus_search.errors import SourceError
    from corpus_search.records import MAX_RECORD_KIB, read_record_text
    (tmp_path / "z.txt").write_text("Some text.\n", encoding="utf-8")
    (tmp_path / "z.toml").symlink_to("/dev/null")  # a device (as /dev/zero, which would fill the memory)
    with pytest.raises(SourceError, match=r"its record z\.toml is (not a regular file|a link to a file outside)"):
        load_record(tmp_path / "z.txt", tmp_path)
    with pytest.raises(SourceError, match=r"its record z\.toml is not a regular file"):
        read_record_text(tmp_path / "z.toml")  # as the app's set_password reads it
    (tmp_path / "big.txt").write_text("Some text.\n", encoding="utf-8")
    (tmp_path / "big.toml").write_text('title = "Big"\n' + "# padding\n" * (MAX_RECORD_KIB * 110), encoding="utf-8")
    with pytest.raises(SourceError, match=rf"its record big\.toml is over {MAX_RECORD_KIB} KiB"):
        load_record(tmp_path / "big.txt", tmp_path)


@pytest.mark.parametrize("line, reason", [
    ('year = "20x8"', 'year "20x8" is not a whole number'),
    ("year = inf", "year inf is not a whole number"),
    ("year = [1, 2]", "year [1, 2] is not a whole number"),
    ("year = true", "year True is not a whole number"),
    ("authors = 5", "authors 5 is not a name or a list of names"),
    ("authors = [{ name = 'x' }]", "authors [{'name': 'x'}] is not a name or a list of names"),
    ('numbered_paragraphs = "no"', 'numbered_paragraphs "no" is not true or false'),
    ("numbered_paragraphs = 1", "numbered_paragraphs 1 is not true or false"),
])
def test_a_wrongly_typed_record_field_fails_with_a_reason_naming_it(tmp_path, line, reason):
    from corpus_search.errors import SourceError
    (tmp_path / "a.txt").write_text("Some text.\n", encoding="utf-8")
    (tmp_path / "a.toml").write_text(line + "\n", encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_record(tmp_path / "a.txt", tmp_path)
    assert str(caught.value).startswith(reason) and "\n" not in str(caught.value)


@pytest.mark.parametrize("line, field, value", [
    ('year = "2016"', "year", 2016), ("year = 2016.0", "year", 2016),
    ("numbered_paragraphs = true", "numbered_paragraphs", True),
    ('numbered_paragraphs = "false"', "numbered_paragraphs", False),
    ('authors = "Ann Author; Bo Li"', "authors", ("Ann Author", "Bo Li")),
])
def test_record_fields_in_a_usual_form_are_read(tmp_path, line, field, value):
    (tmp_path / "a.txt").write_text("Some text.\n", encoding="utf-8")
    (tmp_path / "a.toml").write_text(line + "\n", encoding="utf-8")
    assert getattr(load_record(tmp_path / "a.txt", tmp_path), field) == value


def test_a_link_to_a_file_outside_the_corpus_is_no_source(tmp_path):
    from corpus_search.errors import SourceError
    from corpus_search.records import find_sources, find_unsupported
    corpus, elsewhere = tmp_path / "corpus", tmp_path / "elsewhere"
    (corpus / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("root:x:0:0\n", encoding="utf-8")
    (corpus / "real.txt").write_text("Some text.\n", encoding="utf-8")
    (corpus / "passwd.txt").symlink_to(elsewhere / "secret.txt")
    (corpus / "sub" / "alias.txt").symlink_to("../real.txt")  # a link inside the corpus may stay
    found = [p.relative_to(corpus).as_posix() for p in find_sources(corpus)]
    assert found == ["real.txt", "sub/alias.txt"]
    skipped = {p.name: why for p, why in find_unsupported(corpus)}
    assert "outside the corpus folder" in skipped["passwd.txt"]
    (elsewhere / "secret.toml").write_text('title = "Secret"\n', encoding="utf-8")
    (corpus / "real.toml").symlink_to(elsewhere / "secret.toml")
    with pytest.raises(SourceError, match=r"its record real\.toml is a link to a file outside the corpus folder"):
        load_record(corpus / "real.txt", corpus)
