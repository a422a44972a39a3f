"""W3C Web Annotation JSON-LD out and in, and Hypothesis's JSON in.

Out: an AnnotationCollection (context http://www.w3.org/ns/anno.jsonld) whose items carry a
TextualBody for the note (purpose commenting, Markdown) and one per tag (purpose tagging), and a
target on the source with a TextQuoteSelector and a TextPositionSelector on the cleaned document
text. What only corpus-search knows (passage, its offsets, page, collections, version) travels in a
`corpus_search` member, which JSON-LD processors ignore and our import reads back, so a round trip
gives identical annotations.

In: that shape (a collection, a page, a list or one annotation), or Hypothesis's export (its
client's `{"annotations": [...]}` file, an API search response `{"rows": [...]}`, or a list of
API annotation objects: `text`, `tags`, `user`, `uri`, `target[].selector[]`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from corpus_search.annotations.model import ANCHORED, ORPHAN, Annotation
from corpus_search.annotations.store import clean_tags, new_id, now
from corpus_search.errors import UsageError

CONTEXT = "http://www.w3.org/ns/anno.jsonld"
DOC_URI = "urn:corpus-search:doc:"
PASSAGE_URI = "urn:corpus-search:passage:"
ID_URI = "urn:uuid:"
_EXTRA = ("passage_id", "passage_start", "passage_end", "page", "paragraph", "file_sha256", "collections",
          "status", "anchored_by", "source", "version", "original")


def to_jsonld(annotations: list[Annotation], label: str = "corpus-search annotations") -> dict[str, Any]:
    items = [annotation_to_w3c(a) for a in annotations]
    return {"@context": CONTEXT, "id": f"{ID_URI}{new_id()}", "type": "AnnotationCollection", "label": label,
            "total": len(items), "first": {"type": "AnnotationPage", "startIndex": 0, "items": items}}


def annotation_to_w3c(a: Annotation) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    if a.note:
        body.append({"type": "TextualBody", "value": a.note, "format": "text/markdown", "purpose": "commenting"})
    body += [{"type": "TextualBody", "value": t, "purpose": "tagging"} for t in a.tags]
    selectors: list[dict[str, Any]] = [{"type": "TextQuoteSelector", "exact": a.exact, "prefix": a.prefix,
                                        "suffix": a.suffix}]
    if a.doc_start is not None and a.doc_end is not None:
        selectors.append({"type": "TextPositionSelector", "start": a.doc_start, "end": a.doc_end})
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "id": f"{ID_URI}{a.id}" if re.fullmatch(r"[0-9a-f]{32}", a.id) else a.id,
        "type": "Annotation",
        "motivation": "commenting" if a.note else "highlighting",
        "created": a.created,
        "modified": a.updated,
        "creator": {"type": "Person", "name": a.author},
        "target": _targets(a, selectors),
        "corpus_search": {k: getattr(a, k) for k in _EXTRA},
    }
    out["corpus_search"]["collections"] = list(a.collections)
    if body:
        out["body"] = body
    return out


def _targets(a: Annotation, selectors: list) -> dict[str, Any] | list[dict[str, Any]]:
    """The words in the source's cleaned text and, when placed, the same words in their passage."""
    document = {"source": f"{DOC_URI}{a.doc_id}", "selector": selectors}
    if not a.passage_id or a.passage_start is None or a.passage_end is None:
        return document
    passage = {"source": f"{PASSAGE_URI}{a.passage_id}",
               "selector": {"type": "TextPositionSelector", "start": a.passage_start, "end": a.passage_end}}
    return [document, passage]


def loads(text: str) -> tuple[str, list[Annotation]]:
    """Parse an import file: ('w3c' or 'hypothesis', its annotations); a bad file is a UsageError."""
    try:
        data = json.loads(text)
        rows = _rows(data)
    except json.JSONDecodeError as exc:
        raise UsageError(f"not JSON ({exc.msg} at line {exc.lineno}); import takes W3C JSON-LD or a Hypothesis "
                         "export") from None
    except RecursionError:  # '[' * 100000: no annotation file nests a thousand deep
        raise UsageError("the JSON is nested too deeply to be an annotation file; import takes W3C JSON-LD or a "
                         "Hypothesis export") from None
    if not rows:
        raise UsageError("no annotations found: expected W3C JSON-LD (an Annotation or AnnotationCollection) or a "
                         "Hypothesis export ({\"annotations\": [...]} or {\"rows\": [...]})")
    if all(_is_hypothesis(r) for r in rows):
        return "hypothesis", [from_hypothesis(r) for r in rows]
    return "w3c", [from_w3c(r) for r in rows]


def _rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if not isinstance(data, dict):
        return []
    for key in ("annotations", "rows", "items"):
        if isinstance(data.get(key), list):
            return [r for r in data[key] if isinstance(r, dict)]
    if isinstance(data.get("first"), dict):  # AnnotationCollection -> AnnotationPage
        return _rows(data["first"])
    if data.get("type") == "Annotation" or "target" in data:
        return [data]
    return []


def _is_hypothesis(row: dict[str, Any]) -> bool:
    """An API row (`uri`, `user`, its note in `text`); a W3C annotation has a `type` and its note in `body`.
    A row of `uri` and `text` without `user` (trimmed by a script) is still Hypothesis's: read as W3C, its
    note was lost."""
    return "type" not in row and "body" not in row and ("uri" in row or "user" in row)


def _selectors(target: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(TextQuoteSelector, TextPositionSelector, source) of the first target that has a quote."""
    targets = target if isinstance(target, list) else [target]
    for t in targets:
        if not isinstance(t, dict):
            continue
        sel = t.get("selector") or []
        sel = sel if isinstance(sel, list) else [sel]
        quote = next((s for s in sel if isinstance(s, dict) and s.get("type") == "TextQuoteSelector"), None)
        if quote is not None:
            pos = next((s for s in sel if isinstance(s, dict) and s.get("type") == "TextPositionSelector"), {})
            return quote, pos, str(t.get("source") or "")
    raise UsageError("an annotation has no TextQuoteSelector: only annotations on quoted words can be imported")


def _passage_target(target: Any) -> dict[str, Any]:
    for t in target if isinstance(target, list) else [target]:
        source = t.get("source") if isinstance(t, dict) else None
        sel = t.get("selector") if isinstance(t, dict) else None
        if isinstance(source, str) and source.startswith(PASSAGE_URI) and isinstance(sel, dict):
            return {"passage_id": source[len(PASSAGE_URI):], "passage_start": sel.get("start"),
                    "passage_end": sel.get("end")}
    return {}


def _text(value: Any, limit: int = 10_000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def from_w3c(row: dict[str, Any]) -> Annotation:
    quote, pos, source = _selectors(row.get("target"))
    bodies = row.get("body") or []
    bodies = bodies if isinstance(bodies, list) else [bodies]
    note = next((_text(b.get("value"), 10**7) for b in bodies if isinstance(b, dict)
                 and b.get("purpose", "commenting") == "commenting" and "value" in b), "")
    tags = clean_tags(_text(b.get("value")) for b in bodies if isinstance(b, dict) and b.get("purpose") == "tagging")
    extra = row.get("corpus_search") if isinstance(row.get("corpus_search"), dict) else {}
    if "passage_id" not in extra:  # a file written elsewhere may still carry our passage target
        extra = {**extra, **_passage_target(row.get("target"))}
    creator = row.get("creator")
    author = _text(creator.get("name")) if isinstance(creator, dict) else _text(creator)
    raw_id = _text(row.get("id")) or new_id()
    doc_id = source[len(DOC_URI):] if source.startswith(DOC_URI) else ""
    stamp = now()
    return Annotation(
        id=raw_id[len(ID_URI):] if raw_id.startswith(ID_URI) else raw_id,
        created=_text(row.get("created")) or stamp,
        updated=_text(row.get("modified")) or _text(row.get("created")) or stamp,
        author=author or "unknown",
        doc_id=doc_id,
        file_sha256=_text(extra.get("file_sha256")),
        exact=_text(quote.get("exact"), 10**6),
        prefix=_text(quote.get("prefix")),
        suffix=_text(quote.get("suffix")),
        passage_id=_text(extra.get("passage_id")),
        passage_start=_int(extra.get("passage_start")),
        passage_end=_int(extra.get("passage_end")),
        doc_start=_int(pos.get("start")),
        doc_end=_int(pos.get("end")),
        page=_text(extra.get("page")) or None,
        paragraph=_int(extra.get("paragraph")),
        note=note,
        tags=tags,
        collections=tuple(c for c in (extra.get("collections") or []) if isinstance(c, str) and c.strip()),
        status=ORPHAN if extra.get("status") == ORPHAN else ANCHORED,
        anchored_by=_text(extra.get("anchored_by")) or ("imported" if not extra else ""),
        source=_text(extra.get("source")) or ("" if doc_id else source),
        version=_int(extra.get("version")) or 1,
        original=_text(extra.get("original"), 10**6),
    )


def from_hypothesis(row: dict[str, Any]) -> Annotation:
    quote, pos, source = _selectors(row.get("target"))
    user = _text(row.get("user"))
    info = row.get("user_info") if isinstance(row.get("user_info"), dict) else {}
    # "acct:name@hypothes.is" -> "name", unless the profile has a display name.
    author = _text(info.get("display_name")) or re.sub(r"^acct:([^@]+)@.*$", r"\1", user) or "unknown"
    stamp = now()
    tags = row.get("tags") if isinstance(row.get("tags"), list) else []
    return Annotation(
        id=new_id(),  # Hypothesis ids belong to Hypothesis; ours are UUIDs
        created=_text(row.get("created")) or stamp,
        updated=_text(row.get("updated")) or stamp,
        author=author,
        doc_id="",
        file_sha256="",
        exact=_text(quote.get("exact"), 10**6),
        prefix=_text(quote.get("prefix")),
        suffix=_text(quote.get("suffix")),
        doc_start=_int(pos.get("start")),
        doc_end=_int(pos.get("end")),
        note=_text(row.get("text"), 10**7),
        tags=clean_tags(_text(t) for t in tags),
        status=ORPHAN,  # until anchored in a source of this corpus
        anchored_by="imported",
        source=_text(row.get("uri")) or source,
    )
