"""The command-line contract (../shared/CONTRACT.md), run as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, index=None, corpus=None, cwd=ROOT, input=None):
    cmd = [sys.executable, "-m", "corpus_search"]
    if index:
        cmd += ["--index", str(index)]
    if corpus:
        cmd += ["--corpus", str(corpus)]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd, env=env, input=input,
                          timeout=300)


def one_error_line(proc):
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_help_is_fast_and_lists_the_contract_commands():
    proc = run("--help")
    assert proc.returncode == 0
    for command in ("build", "search", "batch", "quote", "cite", "passages", "entities", "app"):
        assert command in proc.stdout


def test_help_loads_no_model_cluster_or_server_library():
    # `--help` answers at once: none of the libraries that take seconds to import comes with it.
    code = ("import sys\nfrom corpus_search.cli import main\nsys.argv = ['corpus-search', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = ('spacy', 'torch', 'sentence_transformers', 'ray', 'streamlit', 'whoosh', 'numpy')\n"
            "print(' '.join(h for h in heavy if h in sys.modules) or 'none')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr
    assert "Commands:" in proc.stdout and proc.stdout.splitlines()[-1] == "none"


def test_the_cli_offers_the_modes_the_searcher_runs():
    from corpus_search.models import SEARCH_MODES
    from corpus_search.search import MODES

    assert SEARCH_MODES == MODES


def test_search_json_shape(built_index):
    proc = run("search", '"Altai pipeline"', "--mode", "keyword", "--json", index=built_index)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["mode"] == "keyword" and data["query"] == '"Altai pipeline"'
    pages = sorted(r["page"] for r in data["results"] if "Altai pipeline" in r["text"])
    assert pages == [32, 33, 37]


def test_batch_runs_plain_and_json_lines(built_index, tmp_path):
    f = tmp_path / "claims.txt"
    f.write_text('Altai pipeline\n{"query": "pipeline", "entity": ["Gazprom"], "limit": 3, "mode": "keyword"}\n')
    proc = run("batch", str(f), "--json", index=built_index)
    assert proc.returncode == 0, proc.stderr
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["query"] for o in objs] == ["Altai pipeline", "pipeline"]
    assert len(objs[1]["results"]) <= 3
    assert all(any(e["name"] == "Gazprom" for e in r["entities"]) for r in objs[1]["results"])
    table = run("batch", str(f), index=built_index)
    assert table.returncode == 0 and "makocki2016" in table.stdout


def test_batch_checks_every_line_before_it_runs_one(built_index, tmp_path):
    """A broken JSON line stopped the run where it stood, after the lines above it had printed; a misspelt key
    ("entities") ran its line unfiltered, without a word."""
    f = tmp_path / "claims.txt"
    f.write_text('Altai pipeline\n{"query": "pipeline", "entities": ["Gazprom"]}\n{bad json\nlast\n')
    proc = run("batch", str(f), "--json", index=built_index)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"error: {f}:3: not valid JSON (Expecting property name enclosed in double quotes)"]
    f.write_text('Altai pipeline\n{"query": "pipeline", "entities": ["Gazprom"]}\n')
    objs = [json.loads(line) for line in run("batch", str(f), "--json", index=built_index).stdout.splitlines()]
    assert not objs[0]["warnings"] and any('"entities" ignored' in w for w in objs[1]["warnings"])
    table = run("batch", str(f), index=built_index)
    assert table.returncode == 0 and '"entities" ignored' in table.stderr


def test_passages_and_entities_json(built_index):
    proc = run("passages", "--doc", "alexeeva2018", "--json", index=built_index)
    rows = json.loads(proc.stdout)
    assert rows and {"passage_id", "doc_id", "page", "paragraph", "section", "kind", "text", "entities"} <= set(rows[0])
    assert any(r["paragraph"] == 14 for r in rows)
    ents = json.loads(run("entities", "--json", index=built_index).stdout)
    gazprom = [e for e in ents if e["name"] == "Gazprom"]
    assert gazprom and gazprom[0]["label"] == "ORG" and gazprom[0]["passages"] > 1


def test_cite_gives_page_or_paragraph(built_index):
    rows = json.loads(run("passages", "--json", index=built_index).stdout)
    chaillot = next(r for r in rows if r["doc_id"] == "makocki2016" and r["page"] == 17)
    out = run("cite", chaillot["passage_id"], index=built_index).stdout
    assert "Makocki" in out and "17" in out
    para = next(r for r in rows if r["doc_id"] == "alexeeva2018" and r["paragraph"] == 14)
    out = run("cite", para["passage_id"], index=built_index).stdout
    assert "para. 14" in out or "¶ 14" in out or "par. 14" in out


@pytest.mark.parametrize(
    "args",
    [
        ("search", "gas", "--mode", "fuzzy"),
        ("search", "gas", "--doc", "nope"),
        ("search", "gas", "--entity", "Nobody Atall"),
        ("search", ""),
        ("cite", "nope:0001"),
        ("search", "gas", "--limit", "0"),
        ("batch", "/nonexistent/file.txt"),
        ("frobnicate",),
    ],
)
def test_errors_are_one_line(built_index, args):
    line = one_error_line(run(*args, index=built_index))
    assert line.startswith("error:")


def test_missing_index_is_one_line(tmp_path):
    line = one_error_line(run("search", "gas", index=tmp_path / "none"))
    assert "corpus-search build" in line


def test_quote_found_json_and_text(built_index):
    text = "the relationship is not anything like the Soviet-Chinese brotherhood"
    proc = run("quote", text, "--json", index=built_index)
    data = json.loads(proc.stdout)
    assert data["found"] is True
    m = data["matches"][0]
    assert (m["doc_id"], m["page"], m["exact"]) == ("makocki2016", 17, True)
    assert m["selector"]["exact"] == m["source_text"] and len(m["file_sha256"]) == 64
    plain = run("quote", "“The relationship is not anything like the Soviet–Chinese brotherhood”", index=built_index)
    assert plain.returncode == 0 and "p. 17" in plain.stdout


def test_quote_not_found_shows_the_original(built_index):
    proc = run("quote", "Putin is a strategist rather than a tactician", index=built_index)
    assert proc.returncode == 1
    assert "Putin is a tactician rather than a strategist" in proc.stdout and "reordered" in proc.stdout
    data = json.loads(run("quote", "Putin is a strategist rather than a tactician", "--json", index=built_index).stdout)
    assert data["found"] is False and all(not m["exact"] for m in data["matches"])
    assert all(0 <= m["similarity"] <= 1 for m in data["matches"])


def test_check_a_manuscript(built_index):
    proc = run("check", str(ROOT / "tests" / "data" / "manuscript.md"), "--json", index=built_index)
    reports = json.loads(proc.stdout)
    assert len(reports) == 10
    assert [r["verdict"] for r in reports].count("not found") >= 1
    proc = run("check", str(ROOT / "tests" / "data" / "manuscript.md"), index=built_index)
    assert "10 quotations" in proc.stdout
    assert proc.returncode == 1  # as `quote` does when a quotation is not verbatim


def test_check_exits_0_when_every_quotation_is_verbatim(built_index, tmp_path):
    draft = tmp_path / "draft.md"
    draft.write_text("As Makocki put it, \u201cthe relationship is not anything like the Soviet-Chinese brotherhood\u201d.\n")
    proc = run("check", str(draft), index=built_index)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.rstrip().endswith("1 quotation: 1 found")


@pytest.mark.parametrize("name, content", [("draft.pdf", b"%PDF-1.7"), ("draft.docx", b"PK\x03\x04 not a zip")])
def test_check_of_a_draft_it_cannot_read_exits_2_not_the_misquotation_exit_1(built_index, tmp_path, name, content):
    """Both exited 1, so a script could not tell a broken draft from a quotation not found."""
    draft = tmp_path / name
    draft.write_bytes(content)
    proc = run("check", str(draft), index=built_index)
    line = one_error_line(proc)
    assert proc.returncode == 2 and line.startswith("error: ") and name in line, proc.stderr


def test_export_ris_and_bibtex_from_a_search_and_a_quotation(built_index):
    import bibtexparser
    import rispy

    ris = run("export", "--query", "Altai pipeline", "--limit", "3", "--format", "ris", index=built_index).stdout
    entries = rispy.loads(ris)
    assert len(entries) == 3 and all(e["authors"] for e in entries)
    bib = run("export", "--quote", "the relationship is not anything like the Soviet-Chinese brotherhood",
              "--format", "bibtex", index=built_index).stdout
    lib = bibtexparser.parse_string(bib)
    assert lib.entries[0]["pages"] == "17"
    line = one_error_line(run("export", "--quote", "words nobody ever wrote in any source here", index=built_index))
    assert "not found" in line


# ---------------------------------------------------------------- bounded input


@pytest.mark.timeout(60)
def test_batch_of_dev_zero_is_refused_quickly(built_index):
    line = one_error_line(run("batch", "/dev/zero", index=built_index))
    assert "larger than 10 MiB" in line and "CORPUS_SEARCH_MAX_BATCH_MB" in line


@pytest.mark.timeout(60)
def test_batch_with_one_50_mb_line_is_refused(built_index, tmp_path):
    big = tmp_path / "big.txt"
    with big.open("w") as f:
        f.write("gas " * (50 * 1024 * 1024 // 4) + "\n")
    line = one_error_line(run("batch", str(big), index=built_index))
    assert "larger than 10 MiB" in line


def test_batch_with_too_many_queries_is_refused(built_index, tmp_path):
    many = tmp_path / "many.txt"
    many.write_text("gas\n" * 10_001)
    line = one_error_line(run("batch", str(many), index=built_index))
    assert "10,001 queries" in line and "10,000" in line


def test_screen_with_too_many_names_is_refused_before_any_is_screened(built_index, tmp_path):
    """200,000 names still ran at 180 s: there was no cap."""
    many = tmp_path / "many.csv"
    many.write_text("name,aliases\n" + "".join(f"Name{i},\n" for i in range(10_001)))
    line = one_error_line(run("screen", str(many), index=built_index))
    assert "10,001 names" in line and "10,000" in line and "CORPUS_SEARCH_MAX_SCREEN_NAMES" in line


def test_screen_of_dev_zero_and_of_a_huge_cell_is_one_usage_line(built_index, tmp_path):
    line = one_error_line(proc := run("screen", "/dev/zero", index=built_index))
    assert proc.returncode == 2 and "larger than 10 MiB" in line and "CORPUS_SEARCH_MAX_SCREEN_MB" in line
    cell = tmp_path / "cell.csv"
    cell.write_text("name,aliases\n" + "a" * 200_000 + ",\n")  # over csv's 131,072-character field limit
    line = one_error_line(proc := run("screen", str(cell), index=built_index))
    assert proc.returncode == 2 and "internal error" not in line and "cell.csv:2" in line


def test_batch_line_limits_are_capped_and_typed(built_index, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"query": "gas", "limit": 10000000}\n{"query": "gas", "limit": "all"}\n'
                       '{"query": "gas", "label": "NOPE"}\n{"query": "gas", "limit": 2, "label": "ORG"}\n')
    proc = run("batch", str(queries), "--json", index=built_index)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 4
    assert "more than 1,000" in out[0]["error"] and out[0]["results"] == []
    assert "whole number" in out[1]["error"]
    assert "no entities labelled 'NOPE'" in out[2]["error"]
    assert len(out[3]["results"]) == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("search", "gas", "--limit", "10000000"), "CORPUS_SEARCH_MAX_LIMIT"),
        (("export", "--query", "gas", "--limit", "5000"), "CORPUS_SEARCH_MAX_LIMIT"),
        (("search", "gas", "--label", "NOPE"), "its labels are EVENT"),
        (("entities", "--label", "NOPE"), "its labels are EVENT"),
        (("quote", "word " * 1001), "the most `quote` checks is 5,000"),
    ],
)
def test_over_the_caps_and_unknown_labels_are_one_line(built_index, args, expected):
    line = one_error_line(run(*args, index=built_index))
    assert expected in line and "GPE" in line if "labels" in expected else expected in line


@pytest.mark.timeout(600)
def test_build_retry_reprocesses_a_failed_source_once_the_cap_is_raised(tmp_path):
    """A source that failed at the time cap stays failed (not re-tried every build) until `--retry` names it."""
    sys.path.insert(0, str(Path(__file__).parent))
    from hostile_pdf import write_slow_pdf

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "one.txt").write_text("Gazprom signed the Power of Siberia contract with CNPC in May 2014.\n",
                                    encoding="utf-8")
    # More than the first cap, well under the second; one line of text, so the retried build is quick (a page
    # of a megabyte of text cost 2 minutes of embedding here, for nothing this test checks).
    write_slow_pdf(corpus / "slow.pdf")

    def build(*extra, timeout="0.3"):
        env = dict(os.environ, HF_HUB_OFFLINE="1", CORPUS_SEARCH_PDF_TIMEOUT=timeout)
        proc = subprocess.run([sys.executable, "-m", "corpus_search", "--index", str(index), "--corpus", str(corpus),
                               "build", "--json", *extra], capture_output=True, text=True, env=env, timeout=500)
        assert proc.returncode == 0, proc.stderr
        return proc, {s["path"]: s for s in json.loads(proc.stdout)["sources"]}

    _, first = build()
    assert first["slow.pdf"]["status"] == "failed" and "over the time cap" in first["slow.pdf"]["message"]
    _, again = build(timeout="300")  # the same bytes: not tried again without --retry
    assert again["slow.pdf"]["status"] == "failed"
    proc, retried = build("--retry", "slow", "--retry", "nosuchid", timeout="300")
    assert retried["slow.pdf"]["status"] != "failed", retried["slow.pdf"]
    assert "no source has the id nosuchid" in proc.stderr


@pytest.mark.parametrize("args", [("cite", "x" * 100_000), ("search", "gas", "--entity", "y" * 100_000)])
def test_an_error_quoting_a_huge_argument_stays_a_short_line(built_index, args):
    line = one_error_line(run(*args, index=built_index))
    assert line.startswith("error: ") and len(line) < 1000 and " … " in line


@pytest.mark.parametrize("query, line", [("Khabarovsk", "1 passage matches; showing 1 "),
                                         ("Heilongjiang", "2 passages match; showing 2 ")])
def test_search_counts_its_matches_in_words_that_agree(built_index, query, line):
    proc = run("search", query, "--mode", "keyword", index=built_index)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith(line), proc.stdout


def test_hybrid_counts_the_passages_holding_the_words_not_its_candidates(built_index, corpus):
    # Hybrid ranks the keyword and the semantic candidates together; "208 passages match" counted those
    # candidates. What matches is what holds the query's words; the rest of the corpus was ranked by meaning.
    query = "gas pipeline"
    keyword = json.loads(run("search", query, "--mode", "keyword", "--json", index=built_index).stdout)
    data = json.loads(run("search", query, "--json", index=built_index).stdout)
    proc = run("search", query, index=built_index)
    assert proc.returncode == 0, proc.stderr
    words, searched = keyword["total"], len(corpus.passages())
    assert 0 < words < data["total"], "the query no longer tells candidates from matches"
    assert (data["keyword_total"], data["searched"]) == (words, searched)
    assert keyword["keyword_total"] == words and data["total"] >= len(data["results"])
    assert proc.stdout.splitlines()[0].startswith(
        f"{words} passages match the words; the other {searched - words} were ranked by meaning; "
        "showing the best 10 ("), proc.stdout.splitlines()[0]


def test_semantic_says_how_many_passages_it_compared(built_index, corpus):
    # Every passage is some distance from the query: none "matches", the closest are shown.
    proc = run("search", "who pays for the pipeline", "--mode", "semantic", "--limit", "5", "--json",
               index=built_index)
    data = json.loads(proc.stdout)
    assert data["keyword_total"] is None and data["searched"] == len(corpus.passages())
    line = run("search", "who pays for the pipeline", "--mode", "semantic", "--limit", "5",
               index=built_index).stdout.splitlines()[0]
    assert line.startswith(f"showing the 5 of {len(corpus.passages())} passages closest in meaning ("), line


def test_a_filtered_search_counts_among_the_passages_the_filter_allows(built_index, corpus):
    allowed = {p.passage_id for p in corpus.passages_mentioning(["Gazprom"])}
    data = json.loads(run("search", "gas", "--entity", "Gazprom", "--json", index=built_index).stdout)
    assert data["searched"] == len(allowed) < len(corpus.passages())
    holding = {r["passage_id"] for r in data["results"] if re.search(r"\bgas\b", r["text"], re.I)}
    assert len(holding) <= data["keyword_total"] <= len(allowed)


def test_documents_names_files_added_or_removed_since_the_build(tmp_path):
    """A file added after the build was missing from `documents`, and one removed was listed as if still there."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    seed = (ROOT / "corpus" / "alexeeva-lasserre-2018-china-perspectives.txt").read_text(encoding="utf-8")
    (corpus / "a.txt").write_text(seed[:3000], encoding="utf-8")
    (corpus / "memo.txt").write_text(seed[3000:5000], encoding="utf-8")
    assert run("build", index=index, corpus=corpus).returncode == 0
    (corpus / "memo.txt").unlink()
    (corpus / "new.txt").write_text(seed[5000:7000], encoding="utf-8")
    (corpus / "sheet.xlsx").write_bytes(b"PK")
    rows = {r["path"]: r for r in json.loads(run("documents", "--json", index=index, corpus=corpus).stdout)}
    assert set(rows) == {"a.txt", "memo.txt", "new.txt", "sheet.xlsx"}
    assert rows["a.txt"]["status"] == "ok" and "corpus folder" not in rows["a.txt"]["message"]
    assert rows["memo.txt"]["doc_id"] == "memo" and "no longer in the corpus folder" in rows["memo.txt"]["message"]
    assert rows["new.txt"]["doc_id"] is None and rows["new.txt"]["status"] == "skipped"
    assert "added after the last build" in rows["new.txt"]["message"]
    assert "not a supported format" in rows["sheet.xlsx"]["message"]
    table = run("documents", index=index)  # no --corpus: the folder the index was built from
    assert "new.txt" in table.stdout and "no longer in the corpus folder" in table.stdout
    assert run("build", index=index, corpus=corpus).returncode == 0  # after a build, nothing is out of step
    after = {r["path"]: r for r in json.loads(run("documents", "--json", index=index, corpus=corpus).stdout)}
    assert set(after) == {"a.txt", "new.txt", "sheet.xlsx"} and after["new.txt"]["status"] == "ok"
    assert not any("last build" in r["message"] or "no longer" in r["message"] for r in after.values())


def test_an_unknown_passage_id_is_answered_with_one_of_this_index(tmp_path):
    """The example id was always the bundled corpus's, 'makocki2016:0042', whatever the index."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "memo.txt").write_text("The talks on the gas price resumed in Beijing in May.", encoding="utf-8")
    assert run("build", index=index, corpus=corpus).returncode == 0
    line = one_error_line(run("cite", "nope", index=index))
    assert "no passage 'nope'" in line and "'memo:0000'" in line and "makocki" not in line


def test_build_names_the_sources_it_dropped(tmp_path):
    """A removed file's passages left the index without a word in the build's output."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "memo.txt").write_text("The talks on the gas price resumed in Beijing in May.", encoding="utf-8")
    (corpus / "note.txt").write_text("Gazprom and CNPC met again in June.", encoding="utf-8")
    (corpus / "bad.txt").write_text("A note whose record is broken.", encoding="utf-8")
    assert run("build", index=index, corpus=corpus).returncode == 0
    (corpus / "memo.txt").unlink()
    (corpus / "bad.toml").write_text("title = [unclosed", encoding="utf-8")  # fails before it is read: not removed
    proc = run("build", index=index, corpus=corpus)
    assert proc.returncode == 0
    assert "memo.txt: removed from the corpus folder; its 1 passage left the index" in proc.stdout
    assert "bad.txt: removed" not in proc.stdout and "note.txt: removed" not in proc.stdout
    (corpus / "note.txt").rename(corpus / "note2.txt")
    data = json.loads(run("build", "--json", index=index, corpus=corpus).stdout)
    assert data["removed"] == [{"path": "note.txt", "doc_id": "note", "passages": 1}]


def test_a_hits_head_line_cuts_a_long_title_at_a_word_and_leaves_out_an_empty_field(built_index):
    """"U.S.-Iran Ceasefire: Assessment, Reactions, and Issues fo | p. 2": a title cut mid-word, and a text
    file with no page showed "title |  | body"."""
    proc = run("search", "two-week ceasefire", "--mode", "keyword", "--limit", "5", index=built_index)
    heads = [ln for ln in proc.stdout.splitlines() if re.match(r"^\s+\d+\. ", ln)]
    assert any(h.split(". ", 1)[1].startswith("U.S.-Iran Ceasefire: Assessment, Reactions, and Issues for… | p. ")
               for h in heads), heads
    assert all("|  |" not in h and not h.rstrip().endswith("|") for h in heads), heads
