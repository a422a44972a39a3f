"""Small text sources are read many to a worker; what each becomes is what it becomes alone."""

from __future__ import annotations

import pytest

from corpus_search import source_worker, workers
from corpus_search.api import build
from corpus_search.models import STATUS_OK, Record
from corpus_search.source_worker import batchable, process, process_batch
from tests import formats_fixtures as F
from tests.conftest import CORPUS


def _sources(folder):
    """Real texts in the batchable formats, with an empty file and undecodable bytes among them."""
    seed = (CORPUS / "alexeeva-lasserre-2018-china-perspectives.txt").read_text(encoding="utf-8")
    paras = [p for p in seed.split("\n\n") if len(p) > 300][:6]
    files = {
        "a.txt": paras[0] + "\n\n" + paras[1],
        "b.md": "# Gas talks\n\n**Author:** Ann Author\n\n" + paras[2] + "\n\n| Year | Volume |\n| --- | --- |\n| 2014 | 38 |\n",
        "c.html": f"<html><head><title>Talks</title></head><body><h1>Talks</h1><p>{paras[3]}</p></body></html>",
        "d.txt": "",
        "e.htm": f"<p>{paras[4]}</p><p>{paras[5]}</p>",
    }
    out = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        out.append((path, Record(doc_id=path.stem, title=name)))
    raw = folder / "f.txt"
    raw.write_bytes(b"Gazprom \xff\xfe signed\x00 the contract.\n\n" * 50)
    out.append((raw, Record(doc_id="f", title="bytes")))
    # E-mails that name no attachment: one plain, one whose only text is an HTML part, and one that is no e-mail.
    mail = F.eml(folder / "k.eml", F.message(paras[0] + "\n\n" + paras[1], "Gas talks", "ann@example.org",
                                            "desk@example.org", "Mon, 02 Nov 2026 10:00:00 +0000"))
    html_only = F.message("", "Talks", "bo@example.org", "desk@example.org", "Tue, 03 Nov 2026 09:00:00 +0000")
    html_only.set_content(f"<p>{paras[2]}</p>", subtype="html")
    made = [mail, F.eml(folder / "l.eml", html_only), F.garbage_eml(folder / "m.eml")]
    out += [(path, Record(doc_id=path.stem, title=path.name)) for path in made]
    if F.available():  # Word and EPUB files of a real report, and two zip bombs small enough to be batched
        made = [F.docx(F.IRAN_MD, folder / "g.docx"), F.pandoc(F.RUSSIA_MD, folder / "h.epub", "-M", "title=Russia"),
                F.zip_bomb_docx(folder / "i.docx", megabytes=50), F.entity_bomb_docx(folder / "j.docx")]
        out += [(path, Record(doc_id=path.stem, title=path.name)) for path in made]
    return out


def test_a_batch_gives_each_source_what_it_gives_alone(tmp_path):
    items = _sources(tmp_path)
    assert all(batchable(path) for path, _ in items)
    together = process_batch(items)
    alone = [process(path, record) for path, record in items]
    assert together == alone
    assert [r.status for r in together].count(STATUS_OK) >= 4 and any(r.passages for r in together)


def test_a_batch_that_fails_reads_each_source_again_alone(tmp_path, monkeypatch):
    """A batch stopped at its cap (here: its worker's answer lost) costs only time: every source is read alone."""
    items = _sources(tmp_path)
    expected = [process(path, record) for path, record in items]
    real = workers.run_json
    batches = []

    def batch_times_out(argv, request, timeout):
        if b'"batch"' in request:
            batches.append(request)
            return workers.Run(None, timed_out=True)
        return real(argv, request, timeout)

    monkeypatch.setattr(source_worker.workers, "run_json", batch_times_out)
    assert process_batch(items) == expected
    assert len(batches) == 1


@pytest.mark.parametrize("name, size, expected", [
    ("note.txt", 1000, True), ("note.md", 1000, True), ("page.html", 1000, True),
    ("big.txt", source_worker.BATCH_MAX_BYTES + 1, False),  # a large file keeps a worker of its own
    ("report.pdf", 1000, False), ("box.mbox", 1000, False),  # OCR, documents inside
    ("mail.eml", 1000, True),  # names no attachment
    ("letter.docx", 1000, True), ("book.epub", 1000, True),
])
def test_which_files_are_read_in_batches(tmp_path, name, size, expected):
    path = tmp_path / name
    path.write_bytes(b"a" * size)
    assert batchable(path) is expected


def test_a_build_of_many_small_files_reads_them_all(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    items = _sources(corpus)
    report = build(corpus, tmp_path / "index")
    by_id = {s.doc_id: s for s in report.sources}
    assert set(by_id) == {record.doc_id for _, record in items}
    alone = {record.doc_id: process(path, record) for path, record in items}
    for doc_id, src in by_id.items():
        assert (src.status, src.passages) == (alone[doc_id].status, len(alone[doc_id].passages)), doc_id


def test_an_email_that_names_an_attachment_keeps_a_worker_of_its_own(tmp_path):
    """A PDF inside may need OCR, which would hold up every source of its batch."""
    seed = (CORPUS / "alexeeva-lasserre-2018-china-perspectives.txt").read_text(encoding="utf-8")
    note = tmp_path / "note.txt"
    note.write_text(seed[:2000], encoding="utf-8")
    date = "Mon, 02 Nov 2026 10:00:00 +0000"
    plain = F.eml(tmp_path / "plain.eml", F.message(seed[:3000], "Talks", "ann@example.org", "desk@example.org", date))
    attached = F.eml(tmp_path / "attached.eml", F.message(seed[:3000], "Talks", "ann@example.org", "desk@example.org",
                                                          date, attachments=[note]))
    assert batchable(plain) and not batchable(attached)
    folded = tmp_path / "folded.eml"  # the file name on a header's folded line ("Content-Type: ...;\n\tname=...")
    folded.write_bytes(attached.read_bytes().replace(b'; filename="note.txt"', b';\n\tfilename="note.txt"'))
    assert b"\n\tfilename=" in folded.read_bytes() and not batchable(folded)
    big = F.eml(tmp_path / "big.eml", F.message(seed[:3000] * 100, "Talks", "ann@example.org", "desk@example.org", date))
    assert big.stat().st_size > source_worker.BATCH_MAX_BYTES and not batchable(big)
