"""What a source turns into is pinned to PIPELINE_VERSION.

An incremental build reuses a source's passages and vectors while its file, its record and
PIPELINE_VERSION are unchanged. A change to cleaning, splitting or what the embedding model reads that
does not bump the version leaves every index built before it with the old passages or vectors, silently
(it happened once: the abbreviations spelled out for the model changed every vector, and indexes built
before kept their old ones). This test splits plain-text sources (our code alone: no PDF library whose
upgrade could move a character) and compares a fingerprint of the passages and of the model's text with
the one recorded for the current version (with what the model reads of each sentence).

After a deliberate change: bump PIPELINE_VERSION in build_plan.py, then record the new fingerprint with
    PYTHONPATH=src .venv/bin/python tests/test_pipeline_version.py --record
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "data" / "pipeline_fingerprint.json"
SOURCES = [ROOT / "corpus" / "makocki-popescu-2016-chaillot.txt",
           ROOT / "corpus" / "alexeeva-lasserre-2018-china-perspectives.txt",
           *sorted((ROOT / "bench" / "eval" / "fresh4_docs").glob("*.txt")),  # tables, figures, notes
           ROOT / "bench" / "eval" / "entity_unseen5" / "R48907.txt",  # a glossary table ("DOD | Department of Defense")
           ROOT / "bench" / "eval" / "entity_unseen4" / "LSB11421.txt"]  # an abbreviation in mixed case ("BiOp")


def fingerprint() -> str:
    from corpus_search import embedding_text, sentences
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document
    from corpus_search.records import load_record

    h = hashlib.sha256()
    for path in SOURCES:
        record = load_record(path, path.parent)
        split = split_document(record, extract(path, record).pages, pdf=False)
        passages = split.passages
        defined = embedding_text.definitions(passages)
        model_text = embedding_text.texts_for(passages, defined)
        # ... and what it reads of each sentence (a table's rows with its title and header).
        sentence_text = [sentences.model_sentences(p.text, defined.get(p.doc_id, {}), embedding_text.float_title(p.section))
                         for p in passages]
        payload = [split.text, [dataclasses.asdict(p) for p in passages], model_text, sentence_text]
        h.update(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=list).encode())
    return h.hexdigest()


def test_what_a_source_turns_into_changes_only_with_the_pipeline_version() -> None:
    from corpus_search.build_plan import PIPELINE_VERSION

    assert len(SOURCES) >= 10 and all(p.exists() for p in SOURCES)
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert recorded["pipeline_version"] == PIPELINE_VERSION, (
        f"PIPELINE_VERSION is {PIPELINE_VERSION}, the fingerprint was recorded at {recorded['pipeline_version']}: "
        "record it again (see this test's docstring)")
    assert fingerprint() == recorded["sha256"], (
        "passages or the text the model reads changed without a PIPELINE_VERSION bump: indexes built before "
        "would keep the old ones. Bump it in build_plan.py and record the fingerprint (see this test's docstring)")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        raise SystemExit("usage: tests/test_pipeline_version.py --record")
    from corpus_search.build_plan import PIPELINE_VERSION

    RECORDED.write_text(json.dumps({"pipeline_version": PIPELINE_VERSION, "sha256": fingerprint()}, indent=1) + "\n",
                        encoding="utf-8")
    print(f"recorded the fingerprint of PIPELINE_VERSION {PIPELINE_VERSION} in {RECORDED}")
