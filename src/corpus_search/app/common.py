"""What every page shares: the cached Corpus, error display, build progress, opening the reader, result cards.

The app renders; the library decides. Document text only reaches the page through
corpus_search.render, which escapes it before adding any markup.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from corpus_search import build_job, config
from corpus_search.api import Corpus
from corpus_search.annotations import summary_line
from corpus_search.app import login
from corpus_search.errors import CorpusSearchError, IndexMissingError, IndexUntrustedError
from corpus_search.generations import Generations
from corpus_search.models import status_ok
from corpus_search.render import (authors_line, badge, escape, highlight_snippet, passage_locator, reader_views,
                                  view_of)

PAGES: dict[str, st.Page] = {}  # filled by streamlit_app.py, so pages can link to each other

CSS = """
<style>
.cs-passage {line-height: 1.55; margin: 0.2rem 0 0.4rem 0;}
.cs-passage mark {background: #fde68a; padding: 0 0.1em; border-radius: 2px;}
.cs-evidence {background: #e0f2fe; box-shadow: inset 0 -2px 0 #0284c7;}
.cs-hit {border-left: 4px solid #f59e0b; padding-left: 0.6rem; background: #fffbeb;}
.cs-meta {color: #555; font-size: 0.9rem;}
.cs-badge {display: inline-block; font-size: 0.75rem; padding: 0 0.45em; margin-right: 0.3em;
           border-radius: 0.6em; background: #e5e7eb; color: #374151;}
.cs-note {color: #b45309; font-weight: 600;}
.cs-pagebreak {color: #6b7280; font-size: 0.8rem;}
.cs-footnote {font-size: 0.85rem; color: #374151; margin-bottom: 0.5rem;}
del {background: #fee2e2; text-decoration: line-through;}
ins {background: #dcfce7; text-decoration: none;}
</style>
"""


def index_dir() -> Path:
    return Path(config.get("index")).resolve()


def corpus_dir() -> Path:
    return Path(config.get("corpus")).resolve()


@st.cache_resource(show_spinner="Opening the index…", max_entries=2)
def _open_corpus(index: str, generation: str):
    """One Corpus per index generation, shared by every session (read-only)."""
    corpus = Corpus.open(index, corpus_dir())  # entity curation lives in this corpus folder's _entities/
    try:
        corpus.warm_up()  # the embedding model and the first scans' set-up now, not on the first search
    except Exception:  # the search will report its own error
        pass
    return corpus


def current_generation() -> str:
    gen = Generations(index_dir()).current()
    return gen.name if gen else ""


def get_corpus():
    """The Corpus for the current index generation, or None (with the reason shown) when there is none."""
    # Streamlit may run a page from pages/ without the entrypoint (its pages-folder mode), so pages ask too.
    login.require_sign_in(list(PAGES.values()))
    try:
        return _open_corpus(str(index_dir()), current_generation())
    except CorpusSearchError as exc:
        st.session_state["_open_error"] = str(exc)
        st.session_state["_open_untrusted"] = isinstance(exc, IndexUntrustedError)
        return None


def require_corpus():
    """The Corpus, or a page telling how to build the index (with a Build button), then stop."""
    corpus = get_corpus()
    if corpus is not None:
        for warning in corpus.warnings:
            st.warning(escape(warning))
        return corpus
    missing_index_page(st.session_state.get("_open_error", ""), st.session_state.get("_open_untrusted", False))
    st.stop()


def missing_index_page(reason: str, untrusted: bool = False) -> None:
    if untrusted:
        # Not "no index": there is one, built elsewhere or changed without this installation's key.
        st.header("This index is not trusted here")
        st.write(
            f"The index in `{index_dir()}` was built on another installation, or changed since it was built "
            "here, so nothing is read from it. If you trust where it came from, run `corpus-search trust` "
            f"on it in a terminal; or rebuild it here from the sources in `{corpus_dir()}` with **Build the "
            "index** below (the untrusted generations are replaced)."
        )
    else:
        st.header("No index yet")
        st.write(
            f"There is no search index in `{index_dir()}` yet, so there is nothing to search. "
            f"Build it from the sources in `{corpus_dir()}`: press **Build the index** below, "
            "or run `corpus-search build` in a terminal from the project folder."
        )
    if reason:
        st.caption(f"Details: {escape(reason)}")
    if st.button("Build the index", key="build_missing", type="primary"):
        run_build()
    build_panel()


def run_build(force: bool = False, retry: tuple[str, ...] = ()) -> bool:
    """Start a build in its own process (see corpus_search.build_job); True when it started.

    The build never runs in this server process: a source that takes minutes must not freeze
    every session, and Cancel must be able to stop it. `build_panel` shows its progress.
    """
    try:
        job = build_job.start(corpus_dir(), index_dir(), force=force, retry=retry)
    except CorpusSearchError as exc:
        st.error(escape(str(exc)))
        return False
    st.session_state["_build_watched"] = job["started"]  # a build over in under a second still reports
    return True


@st.fragment(run_every=1.0)
def build_panel() -> None:
    """The running build's progress and a Cancel button (on any session's page that shows the panel);
    once it ends, its outcome, for the session that watched it run."""
    job = build_job.status(index_dir())
    if job is None:
        return
    if job["state"] == "running":
        total, done = job.get("total") or 0, job.get("done") or 0
        stage = job.get("stage") or "starting"
        retry = f" (retrying {', '.join(job['retry'])})" if job.get("retry") else ""
        st.progress(min(1.0, done / total) if total else 0.0,
                    text=f"Building the index{retry}: {stage}" + (f", {done} of {total}" if total else ""))
        st.caption(f"Started {time.time() - job['started']:.0f} s ago. Searches keep using the current index "
                   "until the new one is complete.")
        if job.get("log"):
            st.caption(escape(" · ".join(job["log"])))
        if st.button("Cancel the build", key="build_cancel"):
            build_job.cancel(index_dir())
            st.rerun(scope="app")
        st.session_state["_build_watched"] = job["started"]
        return
    if st.session_state.get("_build_watched") == job["started"]:
        # This session watched it run: show the whole app again once, on the new generation.
        st.session_state["_build_watched"] = None
        st.session_state["_build_ended"] = job["started"]
        _open_corpus.clear()
        st.session_state.pop("_search_cache", None)
        st.rerun(scope="app")
    if st.session_state.get("_build_ended") == job["started"]:
        _build_outcome(job)


def _build_outcome(job: dict) -> None:
    if job["state"] == "cancelled":
        st.info("The build was cancelled; the index is as it was before it started.")
    elif job["state"] == "failed":
        st.error(escape(f"The build failed: {job.get('error', '')}"))
    elif job["state"] == "done":
        report = job["report"]
        state = "built" if report["changed"] else "unchanged, nothing to do"
        failed = sum(1 for s in report["sources"] if not status_ok(s["status"]))
        note = f" {failed} did not build: the Documents page lists them with the reason." if failed else ""
        st.success(f"{report['passages']} passages from {len(report['sources'])} sources, {state} "
                   f"in {report['seconds']:.1f} s.{note}")
        annotations = report.get("annotations") or {}
        if annotations.get("error"):
            st.error(escape(summary_line(annotations)) + ". Your annotations are kept as they were.")
        elif annotations.get("orphaned"):
            st.warning(escape(summary_line(annotations)) + ": the Annotations page lists them.")


# -- opening the reader ----------------------------------------------------------------------
def open_reader(passage_id: str, doc_id: str, query: str = "", evidence: tuple[int, int] | None = None,
                span: tuple[int, int] | None = None) -> None:
    params = {"rdoc": doc_id, "hit": passage_id}
    # The document and page go in the URL, so the reader's link can be shared and opens the same
    # page (the reader reads them; its widgets are not bound to the URL, which keeps Back to one press).
    corpus = require_corpus()
    try:
        views = reader_views(corpus.passages(doc_id), by_paragraph=corpus.record(doc_id).cite_by == "paragraph")
        if views:
            params["view"] = views[view_of(views, passage_id)].label
    except CorpusSearchError:
        pass  # the reader explains a missing document itself
    if query:
        params["hq"] = query
    if span:  # a quotation: the reader marks just its words on the original page
        params["qs"], params["qe"] = str(int(span[0])), str(int(span[1]))
    if evidence is not None:
        params["ev"] = f"{int(evidence[0])}-{int(evidence[1])}"  # the sentence the search found, marked there too
    st.session_state["_reader_target"] = passage_id
    st.switch_page(PAGES["reader"], query_params=params)


# -- result cards -------------------------------------------------------------------------------
def meta_line(record, passage) -> str:
    """Title, authors, year, where: escaped except for the parts we write ourselves."""
    parts = [f"<strong>{escape(record.title)}</strong>"]
    who = authors_line(record.authors)
    if who:
        parts.append(escape(who))
    if record.year:
        parts.append(str(int(record.year)))
    where = passage_locator(passage)
    if where:
        parts.append(f'<span class="cs-loc">{where}</span>')
    head = " · ".join(parts)
    extra = []
    if passage.section:
        extra.append(escape(passage.section))
    if passage.kind != "body":
        extra.append(badge(passage.kind))
    if getattr(passage, "pdf_page", None) and str(passage.pdf_page) != str(passage.page):
        extra.append(f"PDF page {int(passage.pdf_page)}")
    if getattr(passage, "language", None):
        extra.append(badge(passage.language))
    tail = f'<br><span class="cs-meta">{" · ".join(extra)}</span>' if extra else ""
    return f'<div class="cs-head">{head}{tail}</div>'


def passage_html(text: str, spans=(), width: int = 900, css: str = "cs-passage") -> str:
    return f'<div class="{css}">{highlight_snippet(text, spans, width)}</div>'


def cite_or_note(corpus, passage_id: str, style: str = "chicago", offset=None, end_offset=None) -> str:
    try:
        return corpus.cite(passage_id, style=style, offset=offset, end_offset=end_offset)
    except (CorpusSearchError, ImportError) as exc:
        return f"(no citation: {exc})"


def cite_match_or_note(corpus, match, style: str = "chicago") -> str:
    """A verified quotation cited in `style`, with its own pages or paragraphs (also across two passages)."""
    try:
        return corpus.cite_match(match, style=style)
    except (CorpusSearchError, ImportError) as exc:
        return f"(no citation: {exc})"


def quotation_block(corpus, passage, offset=None, end_offset=None) -> str:
    text = passage.text if offset is None else passage.text[offset:end_offset]
    text = " ".join(text.split())
    return f"“{text}” {cite_or_note(corpus, passage.passage_id, offset=offset, end_offset=end_offset)}"


def show_error(exc: Exception) -> None:
    if isinstance(exc, IndexMissingError):
        missing_index_page(str(exc), isinstance(exc, IndexUntrustedError))
    else:
        st.error(escape(str(exc)))


@st.cache_resource(max_entries=4, show_spinner=False)
def _entities(index: str, generation: str, curation: int) -> list:
    return _open_corpus(index, generation).entities()


def entities(corpus) -> list:
    """Every entity of the current generation, most mentioned first (cached per generation and curation)."""
    corpus.store.curation()  # re-reads corpus/_entities/curation.toml if it changed (here or from the CLI)
    return _entities(str(index_dir()), corpus.generation.name, corpus.store.curation_version)


def entity_label(entity) -> str:
    """How an entity reads in a picker: name, type, passages and aliases (so typing an alias finds it)."""
    text = f"{entity.name} · {entity.label} · {entity.passages}"
    if entity.aliases:
        text += " (also " + "; ".join(entity.aliases[:6]) + ")"
    return text
