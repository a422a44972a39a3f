"""Names-list screening: every passage that mentions each name of a list, with its page and the form matched.

A name matches through the entities (its canonical name or any alias, curated ones included)
and through the text itself (the name, its aliases from the list and their spelling variants,
as whole words), so a name NER missed is still found; `fuzzy` also accepts entity names
within a similarity. A name found nowhere is reported with no matches, never dropped.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus_search import capped, config, shapes
from corpus_search.cite import cite
from corpus_search.entities import alias_key, resolve
from corpus_search.errors import UsageError
from corpus_search.export import csv_cell
from corpus_search.locators import HYPHEN, Locator, find_locator


@dataclass(frozen=True)
class ScreenName:
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScreenMatch:
    passage_id: str
    doc_id: str
    page: int | None  # the printed page the matched words are on (not where their passage starts)
    matched: str  # the words as the passage has them
    via: str  # "entity", "text" or "fuzzy"
    entity: str | None
    citation: str  # cites the matched words, so its locator is `locator`'s
    pdf_page: int | None = None  # the PDF's own page: what a reader finds where no printed number is (a cover)
    locator: Locator = Locator("")  # pages or paragraph of the matched words, as quote and cite find them
    start: int = 0  # the matched words' span in the passage's text
    end: int = 0

    def to_json(self) -> dict:
        return shapes.screen_match(self)

    def where(self, *, dash: str = HYPHEN) -> str:
        """"p. 17", "pp. 17-18", "para. 6" (the locators' text); "" when the source prints no page there."""
        return self.locator.text(dash=dash)

    @property
    def paragraph(self) -> int | None:
        """The source's own paragraph number of the matched words, where it numbers them (and is cited by them)."""
        first = self.locator.first
        return int(first) if self.locator.label == "paragraph" and first.isdigit() else None


@dataclass
class ScreenResult:
    name: ScreenName
    matches: list[ScreenMatch] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.matches)

    def to_json(self) -> dict:
        return shapes.screen_result(self)


def read_names(path: Path) -> list[ScreenName]:
    """A CSV with a `name` column (else the first column) and optional `aliases` (separated by ';' or '|'),
    read under the max_screen_mb cap: at most the cap plus one byte is read."""
    max_mb = config.get_int("max_screen_mb")
    text = capped.read_text(path, max_mb * 1024 * 1024, str(_too_large(str(path), max_mb)),
                            f"cannot read names list {path}: it is not UTF-8 text; give a UTF-8 CSV with a 'name' column")
    return parse_names(text, str(path))


def _too_large(where: str, max_mb: int) -> UsageError:
    return UsageError(f"{where} is larger than {max_mb} MiB, the most `screen` reads "
                      "(split it, or set CORPUS_SEARCH_MAX_SCREEN_MB)")


def _delimiter(text: str) -> str:
    """"," unless the file is plainly separated by semicolons or tabs (as spreadsheets save CSV in many locales):
    a header that names its "name" column that way, or no comma anywhere but a semicolon or tab on its lines."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ","
    for sep in (";", "\t"):
        if "name" in [c.strip().strip('"').lower() for c in lines[0].split(sep)] and "name" not in [
                c.strip().strip('"').lower() for c in lines[0].split(",")]:
            return sep
    if "," not in text:
        for sep in ("\t", ";"):
            if any(sep in line for line in lines):
                return sep
    return ","


def parse_names(text: str, where: str = "names") -> list[ScreenName]:
    """A names list: CSV with a 'name' column and an optional 'aliases' one (several aliases split by ';' or '|'),
    or a name per line; a file separated by semicolons or tabs is read as such. At most max_screen_mb of
    text and max_screen_names names: each name is searched through every passage."""
    max_mb = config.get_int("max_screen_mb")
    if len(text.encode("utf-8", "surrogatepass")) > max_mb * 1024 * 1024:
        raise _too_large(where, max_mb)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    try:
        rows = list(reader)
    except csv.Error as exc:  # a cell over csv's field limit (131,072 characters) is no name
        raise UsageError(f"{where}:{reader.line_num}: not a names list ({exc}); give a CSV with a 'name' "
                         "column") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise UsageError(f"{where}: no names in it; give a CSV with a 'name' column")
    header = [c.strip().lower() for c in rows[0]]
    if "name" in header:
        name_col, alias_col, rows = header.index("name"), header.index("aliases") if "aliases" in header else None, rows[1:]
    else:
        name_col, alias_col = 0, 1 if len(rows[0]) > 1 else None
    out = []
    for row in rows:
        name = row[name_col].strip() if name_col < len(row) else ""
        if not name:
            continue
        extra = row[alias_col] if alias_col is not None and alias_col < len(row) else ""
        aliases = tuple(a.strip() for a in re.split(r"[;|]", extra) if a.strip())
        out.append(ScreenName(name, aliases))
    if not out:
        raise UsageError(f"{where}: no names in it; give a CSV with a 'name' column")
    max_names = config.get_int("max_screen_names")
    if len(out) > max_names:
        raise UsageError(f"{where} holds {len(out):,} names; the most one `screen` runs is {max_names:,} "
                         "(split it, or set CORPUS_SEARCH_MAX_SCREEN_NAMES)")
    return out


def variants(form: str) -> set[str]:
    """Spelling variants of a form: "the", possessive, dots in initials, dashes, British/American endings."""
    base = re.sub(r"^[Tt]he\s+", "", form.strip())
    out = {base, base.replace(".", ""), re.sub(r"[-‐‑–—]", " ", base)}
    for british, american in (("centre", "center"), ("isation", "ization"), ("defence", "defense"),
                              ("programme", "program")):
        for a, b in ((british, american), (american, british)):
            if a in base.lower():
                out.add(re.sub(a, b, base, flags=re.IGNORECASE))
    return {v for v in out if v.strip()}


def _patterns(forms: set[str]) -> list[re.Pattern[str]]:
    """Whole words, any spaces, line breaks or dashes between words, possessive allowed. Forms in
    capitals ("US", "DOD") match as written, so "US" never matches "us"; others ignore case."""
    out = []
    for exact in (True, False):
        group = [f for f in forms if (not any(c.islower() for c in f)) == exact]
        if not group:
            continue
        parts = []
        for form in sorted(group, key=len, reverse=True):
            words = [re.escape(w).replace(r"\.", r"\.?") for w in form.split()]
            parts.append(r"[\s\-‐‑–—]+".join(words))
        out.append(re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")(?![\w])", 0 if exact else re.IGNORECASE))
    return out


def screen(corpus, names: Sequence[ScreenName], fuzzy: int | None = None) -> list[ScreenResult]:
    """Screen each name against the opened corpus; `fuzzy` (0-100) also matches entity names that close."""
    store = corpus.store
    aliases = store.aliases()
    entity_names = store.entity_names()
    passages = store.passages()
    mentions = store.mentions([p.passage_id for p in passages])
    by_id = {p.passage_id: p for p in passages}
    order = {p.passage_id: i for i, p in enumerate(passages)}
    results = []
    for item in names:
        forms = {item.name, *item.aliases}
        wanted: dict[str, str] = {}  # entity name -> via
        for form in forms:
            for n in resolve(form, aliases, entity_names):
                wanted.setdefault(n, "entity")
        if fuzzy is not None:
            from rapidfuzz import fuzz, process

            keys = {alias_key(n): n for n in entity_names}
            for form in forms:
                for key, score, _ in process.extract(alias_key(form), list(keys), scorer=fuzz.token_sort_ratio,
                                                     score_cutoff=fuzzy, limit=5):
                    wanted.setdefault(keys[key], "fuzzy")
        seen: set[tuple[str, int, int]] = set()
        matches: list[ScreenMatch] = []

        def add(pid: str, start: int, end: int, via: str, entity: str | None) -> None:
            if any(s < end and start < e for p, s, e in seen if p == pid):
                return
            seen.add((pid, start, end))
            p = by_id[pid]
            record = corpus.record(p.doc_id)
            loc = find_locator(record, p, start, end)
            label = p.page_at(start)
            page = int(label) if label and label.isdigit() else p.page
            matches.append(ScreenMatch(pid, p.doc_id, page, p.text[start:end], via, entity,
                                       cite(record, p, "chicago", start, end), p.pdf_page_at(start), loc, start, end))

        for pid, ms in mentions.items():
            for m in ms:
                if m.name in wanted:
                    add(pid, m.start, m.end, wanted[m.name], m.name)
        # Every known spelling of what the name resolved to, searched as text too: mentions NER missed.
        text_forms = set().union(*(variants(f) for f in forms))
        for pattern in _patterns(text_forms):
            for p in passages:
                for m in pattern.finditer(p.text):
                    add(p.passage_id, m.start(), m.end(), "text", None)
        matches.sort(key=lambda m: (order[m.passage_id], m.matched))
        results.append(ScreenResult(item, matches))
    return results


def to_csv(results: Sequence[ScreenResult]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    # "paragraph" and "where" (the locator as the app shows it) come last: columns scripts read by place stay put.
    w.writerow(["name", "found", "passage_id", "doc_id", "page", "matched", "via", "entity", "citation", "pdf_page",
                "paragraph", "where"])
    for cells in _csv_rows(results):
        # A name comes from a list someone sent: "=HYPERLINK(...)" must reach a spreadsheet as text.
        w.writerow([csv_cell(c) for c in cells])
    return out.getvalue()


def _csv_rows(results: Sequence[ScreenResult]):
    for r in results:
        if not r.matches:
            yield [r.name.name, "no", "", "", "", "", "", "", "", "", "", ""]
        for m in r.matches:
            yield [r.name.name, "yes", m.passage_id, m.doc_id, "" if m.page is None else m.page, m.matched,
                   m.via, m.entity or "", m.citation, "" if m.pdf_page is None else m.pdf_page,
                   "" if m.paragraph is None else m.paragraph, m.where()]
