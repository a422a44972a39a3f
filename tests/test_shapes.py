"""The JSON shapes of CONTRACT.md, made in one place (shapes.py): the same thing reads the same everywhere."""

from __future__ import annotations

import json

from tests.test_cli import run

# CONTRACT.md's keys, in its order: scripts that read the JSON see these first.
SEARCH_KEYS = ["query", "mode", "total", "results"]
QUOTE_MATCH_KEYS = ["passage_id", "doc_id", "page", "paragraph", "exact", "similarity", "source_text", "citation"]
PASSAGE_KEYS = {"passage_id", "doc_id", "page", "paragraph", "section", "kind", "text", "entities"}


def test_a_passage_lists_its_entities_alike_in_search_and_passages(corpus, built_index):
    result = json.loads(run("search", "Altai pipeline", "--mode", "keyword", "--json", index=built_index).stdout)
    hit = next(r for r in result["results"] if r["entities"])
    rows = json.loads(run("passages", "--doc", hit["doc_id"], "--json", index=built_index).stdout)
    row = next(r for r in rows if r["passage_id"] == hit["passage_id"])
    # passages lists every mention; a search result each entity once, as first mentioned: the same objects.
    first = {}
    for m in row["entities"]:
        first.setdefault(m["name"], m)
    assert hit["entities"] == list(first.values())
    assert all(list(m) == ["name", "label", "text"] for m in hit["entities"])
    assert PASSAGE_KEYS <= set(row)


def test_the_cli_and_the_api_give_the_same_objects(corpus, built_index):
    out = json.loads(run("search", "Power of Siberia", "--mode", "keyword", "--json", index=built_index).stdout)
    api = corpus.result_json(corpus.search("Power of Siberia", mode="keyword"))
    assert list(out)[:4] == SEARCH_KEYS
    assert out["results"] and out["results"] == api["results"]


def test_a_quote_match_has_the_contract_keys_first(corpus, built_index):
    # Words with no ellipsis or brackets, which a quotation would read as omissions or insertions.
    passage = next(p for p in corpus.passages() if p.kind == "body" and len(p.text.split()) > 12
                   and not any(mark in p.text for mark in ("[", "...", "\u2026")))
    words = " ".join(passage.text.split()[2:10])
    data = json.loads(run("quote", words, "--json", index=built_index).stdout)
    assert data["found"] is True
    assert all(list(m)[:len(QUOTE_MATCH_KEYS)] == QUOTE_MATCH_KEYS for m in data["matches"])
    assert passage.passage_id in {m["passage_id"] for m in data["matches"]}
