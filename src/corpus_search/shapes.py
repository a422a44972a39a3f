"""The one place model objects become the JSON objects CONTRACT.md promises (and its extensions).

The CLI prints these, the API (`Corpus.result_json`, `passages_json`, ...) returns them, and the app
offers them as downloads, so a shape changes here or nowhere. Keys come in the contract's order, its
own keys first and the extensions after: `--json` output is read by scripts and compared by tests.
The models' own `to_json`/`from_json` (Record, Passage, Document, TrashItem; a curation Change's `to_toml`)
are their storage form, not these: a stored file keeps its form when a printed shape grows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from corpus_search.models import Document, Entity, Hit, Mention, Passage, QuoteMatch, Record, SearchResult
from corpus_search.models import contract_status, fields_json

# For type hints only: three of these import shapes to build their own JSON (a cycle), and the others
# would load the trash, curation and entity modules for every caller of shapes.
if TYPE_CHECKING:
    from corpus_search.annotations.model import Annotation
    from corpus_search.build_report import BuildReport
    from corpus_search.curation import Change, Curation
    from corpus_search.quote_report import QuoteReport
    from corpus_search.screen import ScreenMatch, ScreenResult
    from corpus_search.trash import PurgePlan, TrashedFile, TrashItem

# CONTRACT.md's keys of a quote match, in its order; the extras (spans, selector, diff, OCR) follow.
_QUOTE_MATCH_KEYS = ("passage_id", "doc_id", "page", "paragraph", "exact", "similarity", "source_text", "citation")


def mention(m: Mention) -> dict[str, Any]:
    """An entity mention as search results and passages list it."""
    return {"name": m.name, "label": m.label, "text": m.text}


def entity(e: Entity) -> dict[str, Any]:
    """One row of `entities --json`."""
    return {
        "name": e.name,
        "label": e.label,
        "aliases": list(e.aliases),
        "passages": e.passages,
        "mentions": e.mentions,
        "cooccurring": [{"name": n, "passages": c} for n, c in e.cooccurring],
    }


def passage(p: Passage, mentions: Iterable[Mention] = ()) -> dict[str, Any]:
    """One row of `passages --json`."""
    return {
        "passage_id": p.passage_id,
        "doc_id": p.doc_id,
        "page": p.page,
        "page_end": p.page_end,
        "page_label": p.page_label,
        "paragraph": p.paragraph,
        "section": p.section,
        "kind": p.kind,
        "text": p.text,
        "start": p.start,
        "end": p.end,
        "notes": list(p.notes),
        "ocr": p.ocr,
        "ocr_confidence": p.ocr_confidence,
        "pdf_page": p.pdf_page,
        "language": p.language,
        "entities": [mention(m) for m in mentions],
    }


def evidence_page(hit: Hit) -> int | str | None:
    """The printed page the hit's evidence sentence starts on (a passage may cross pages)."""
    if hit.evidence is None:
        return None
    label = hit.passage.page_at(hit.evidence[0])
    return int(label) if label is not None and label.isdigit() else label


def hit(h: Hit, record: Record, citation: str, explain: bool = False, title_of=None) -> dict[str, Any]:
    """One result of `search --json`; `explain` adds the scores behind its rank; `title_of` (doc id -> title)
    names the documents of the hit's copies."""
    p = h.passage
    data = {
        "rank": h.rank,
        "passage_id": p.passage_id,
        "doc_id": p.doc_id,
        "title": record.title,
        "authors": list(record.authors),
        "year": record.year,
        "page": p.page,
        "page_end": p.page_end,
        "paragraph": p.paragraph,
        "section": p.section,
        "kind": p.kind,
        "text": p.text,
        "score": h.score,
        "keyword_rank": h.keyword_rank,
        "semantic_rank": h.semantic_rank,
        "entities": [mention(m) for m in h.entities],
        "highlights": [list(s) for s in h.highlights],
        "evidence": None if h.evidence is None else {
            "text": p.text[h.evidence[0]:h.evidence[1]], "start": h.evidence[0], "end": h.evidence[1],
            "page": evidence_page(h)},
        "citation": citation,
        "ocr": p.ocr,  # the text was read by OCR from a page image
        "ocr_confidence": p.ocr_confidence,
        "pdf_page": p.pdf_page,
        "language": p.language,
        # The same text elsewhere, ranked below this hit and shown once with it (Searcher._distinct).
        "copies": [{"passage_id": c.passage_id, "doc_id": c.doc_id, "title": title_of(c.doc_id) if title_of else None,
                    "page": c.page, "page_end": c.page_end, "pdf_page": c.pdf_page} for c in h.copies],
    }
    if explain:
        data.update(keyword_score=h.keyword_score, semantic_score=h.semantic_score, fused_score=h.fused_score,
                    kind_factor=h.kind_factor, evidence_score=h.evidence_score)
    return data


def search_result(result: SearchResult, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The `search --json` object (one line of `batch --json`) around its results, already shaped by `hit`."""
    return {
        "query": result.query,
        "mode": result.mode,
        "total": result.total,
        "results": list(results),
        "facets": {label: [{"name": n, "passages": c} for n, c in items] for label, items in result.facets.items()},
        # what the facets counted: {"by": "words" | "meaning" | "filters", "passages": n}
        "facets_over": {"by": result.facets_over[0], "passages": result.facets_over[1]},
        "warnings": list(result.warnings),
        "seconds": round(result.seconds, 4),
        # `total` counts what was ranked (for hybrid and semantic, candidates); these say what it means.
        "keyword_total": result.keyword_total,
        "searched": result.searched,
        "also_searched": [{"said": said, "also": also} for said, also in result.also_searched],
    }


def search_error(query: str, message: str) -> dict[str, Any]:
    """A `batch --json` line for a query that could not run: the search shape, empty, with the error."""
    return {"query": query, "error": message, "results": [], "total": 0}


def quote_match(m: QuoteMatch) -> dict[str, Any]:
    """One match of `quote --json`: the contract's keys first, then every other field of the match."""
    data = fields_json(m)
    return {**{k: data[k] for k in _QUOTE_MATCH_KEYS}, **{k: v for k, v in data.items() if k not in _QUOTE_MATCH_KEYS}}


def quote_report(r: QuoteReport) -> dict[str, Any]:
    """The `quote --json` object (and one item of `check --json`)."""
    return {"quote": r.quote, "found": r.found, "verdict": r.verdict, "matches": [quote_match(m) for m in r.matches]}


# What `documents` says of a file the index and the corpus folder disagree on (api.Corpus.since_build).
ADDED = "added after the last build: `corpus-search build` reads it"
GONE = "no longer in the corpus folder: the next build drops it"


def documents(docs: Iterable[Document], unindexed: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `documents --json` list: every document, then every file that is none (doc_id null)."""
    rows = [d.to_json() for d in docs]
    rows += [{"path": u["path"], "doc_id": None, "status": u["status"], "message": u["message"], "passages": 0}
             for u in unindexed]
    # `status` in the contract's four words; `detail` the status the build gave ("no text layer", ...).
    return [{**row, "status": contract_status(row["status"]), "detail": row["status"]} for row in rows]


def screen_match(m: ScreenMatch) -> dict[str, Any]:
    """One passage a screened name was found in (`screen --json`)."""
    return {"passage_id": m.passage_id, "doc_id": m.doc_id, "page": m.page, "pdf_page": m.pdf_page,
            "paragraph": m.paragraph, "where": m.where(), "matched": m.matched, "via": m.via, "entity": m.entity,
            "citation": m.citation}


def screen_result(r: ScreenResult) -> dict[str, Any]:
    """One name of `screen --json`, found or not."""
    return {"name": r.name.name, "aliases": list(r.name.aliases), "found": r.found,
            "passages": len({m.passage_id for m in r.matches}),
            "matches": [screen_match(m) for m in r.matches]}


def screen_report(results: Sequence[ScreenResult]) -> dict[str, Any]:
    """The `screen --json` object: how many names, how many found, which not, then each name."""
    return {"names": len(results), "found": sum(r.found for r in results),
            "not_found": [r.name.name for r in results if not r.found],
            "results": [screen_result(r) for r in results]}


def build_report(r: BuildReport) -> dict[str, Any]:
    """`build --json`, and the report the app's build job leaves for the app to show."""
    return {
        "generation": r.generation,
        "passages": r.passages,
        "seconds": round(r.seconds, 2),
        "stage_seconds": {k: round(v, 2) for k, v in r.stage_seconds.items()},
        "changed": r.changed,
        # every field of a source's report, in its order; a file that is no document has doc_id null
        "sources": [{**dataclasses.asdict(s), "doc_id": s.doc_id or None} for s in r.sources],
        "annotations": r.annotations,
        **({"retries": r.retries} if r.retries else {}),
        **({"removed": r.removed} if r.removed else {}),
        **({"work": r.work} if r.work else {}),
    }


def trashed_file(f: TrashedFile) -> dict[str, Any]:
    """One file of a trash item: where it was, its role, whether it moved, its link or hash and size."""
    return {"path": f.path, "role": f.role, "moved": f.moved, "link": f.link, "sha256": f.sha256, "size": f.size}


def trash_item(item: TrashItem) -> dict[str, Any]:
    """One item of `trash --json`, and what `remove --json` and `restore --json` print."""
    return {"id": item.id, "path": item.path, "removed_at": item.removed_at,
            "files": [trashed_file(f) for f in item.files]}


def purge_report(plan: PurgePlan) -> dict[str, Any]:
    """`purge --yes --json`: what was deleted for good."""
    return {"target": plan.target, "path": plan.path, "corpus_files": list(plan.corpus_files),
            "trash_ids": list(plan.trash_ids), "kept": list(plan.kept), "purged": True}


def annotation(a: Annotation) -> dict[str, Any]:
    """One annotation of `annotate --json`, `annotations list --json` and `annotations edit --json`: every field."""
    out = dataclasses.asdict(a)
    out["tags"], out["collections"] = list(a.tags), list(a.collections)
    return out


def collections(rows: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    """`annotations collections --json`: each collection, in order, with how many annotations it holds."""
    return [{"name": name, "annotations": count} for name, count in rows]


def curation_change(c: Change) -> dict[str, Any]:
    """One curation step as `curate history --json` lists it (`value` only when the step has one)."""
    return {"op": c.op, "name": c.name, **({"value": c.value} if c.value else {}), "at": c.at}


def curation_history(cur: Curation) -> dict[str, Any]:
    """`curate history --json`: the changes in force, oldest first, and those undone."""
    return {"changes": [curation_change(c) for c in cur.changes], "undone": [curation_change(c) for c in cur.undone]}
