"""Annotating in the app: the durable store, the selection listener, the annotate form, note cards, the collection.

The store is corpus_search.annotations (SQLite beside the index folder): notes survive a reload,
a restart and a rebuild. Notes are rendered by annotations.note_html, which escapes before it
adds any markup; quotes go through corpus_search.render like all source text.
"""

from __future__ import annotations

import streamlit as st

from corpus_search.app import common
from corpus_search.annotations import (EXPORT_FORMATS, AnnotationConflict, AnnotationStore, annotate_span, claim,
                                       note_html, span_in_passage)
from corpus_search.annotations import export as export_annotations
from corpus_search.annotations.store import store_dir
from corpus_search.errors import CorpusSearchError
from corpus_search.render import count, escape, passage_locator

CSS = """
<style>
.cs-passage mark.cs-ann, mark.cs-ann {background: #bfdbfe; border-bottom: 2px solid #2563eb;}
.cs-annot {font-size: 0.88rem; border-left: 3px solid #2563eb; padding: 0.1rem 0 0.1rem 0.5rem;
           margin: 0.2rem 0 0.6rem 0;}
.cs-annot p {margin: 0.1rem 0;}
.cs-annot q {font-style: italic;}
.cs-orphan {border-left-color: #dc2626;}
</style>
"""

# Reports the words selected inside a passage of the reader (an element with data-pid) to Python.
# Offsets counted in the page's text are approximate (badges and page labels add text); Python
# takes the occurrence of the selected words nearest to them in the passage's own text.
_SELECTION_JS = """
export default function(component) {
  const { setTriggerValue } = component;
  const element = (n) => (n && n.nodeType === 1 ? n : n && n.parentElement);
  const report = () => {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed || sel.rangeCount === 0) return;
    const range = sel.getRangeAt(0);
    const a = element(range.startContainer) && element(range.startContainer).closest('[data-pid]');
    const b = element(range.endContainer) && element(range.endContainer).closest('[data-pid]');
    if (!a || a !== b) return;
    const text = sel.toString();
    if (!text.trim() || text.length > 5000) return;
    const before = document.createRange();
    before.selectNodeContents(a);
    before.setEnd(range.startContainer, range.startOffset);
    setTriggerValue('selected', {pid: a.getAttribute('data-pid'), text: text, offset: before.toString().length});
  };
  document.addEventListener('mouseup', report);
  document.addEventListener('keyup', report);
  return () => {
    document.removeEventListener('mouseup', report);
    document.removeEventListener('keyup', report);
  };
}
"""
_selection = st.components.v2.component("corpus_search_selection", js=_SELECTION_JS)


@st.cache_resource(show_spinner=False)
def _open_store(folder: str) -> AnnotationStore:
    return AnnotationStore.open(folder)


def store() -> AnnotationStore:
    """The annotation store that belongs with the app's index folder (shared by every session)."""
    opened = _open_store(str(store_dir(common.index_dir())))
    claim(opened, common.index_dir())
    return opened


def selection_listener(key: str) -> dict | None:
    """The words the user just selected in a passage ({pid, text, offset}), once, or None."""
    result = _selection(key=key, on_selected_change=lambda: None, height=0)
    picked = getattr(result, "selected", None)
    return picked if isinstance(picked, dict) and picked.get("pid") else None


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]


def annotate_form(corpus, passages, key: str, chosen: dict | None = None, in_dialog: bool = False,
                  default: str | None = None) -> None:
    """Quote, note, tags, collection: saved to the store. `chosen` prefills it from a selection; `default` is the
    passage it starts on (the one the reader was opened at), each time it changes."""
    by_id = {p.passage_id: p for p in passages}
    if not by_id:
        return
    if default in by_id and st.session_state.get(f"{key}-default") != default:
        st.session_state[f"{key}-default"] = default
        st.session_state[f"{key}-pid"] = default
    if chosen and chosen.get("pid") in by_id:
        st.session_state[f"{key}-pid"] = chosen["pid"]
        st.session_state[f"{key}-quote"] = " ".join(str(chosen.get("text", "")).split())
        st.session_state[f"{key}-offset"] = chosen.get("offset")
    if st.session_state.get(f"{key}-pid") not in by_id:
        st.session_state[f"{key}-pid"] = next(iter(by_id))
    names = [n for n, _ in store().collections()]
    with st.form(key, clear_on_submit=False, border=True):
        st.selectbox("Passage", list(by_id), key=f"{key}-pid",
                     format_func=lambda pid: _passage_label(by_id[pid]))
        st.text_input("Words to highlight (select them in the text, or paste; empty: the whole passage)",
                      key=f"{key}-quote")
        st.text_area("Note (Markdown)", key=f"{key}-note", height=90)
        st.text_input("Tags (comma-separated)", key=f"{key}-tags")
        st.selectbox("Collection", ["(none)", *names, "New collection…"], key=f"{key}-coll")
        st.text_input("New collection name", key=f"{key}-newcoll")
        # Saved in the submit callback, where the form's boxes may still be emptied for the next note;
        # a refused save keeps everything the user typed.
        st.form_submit_button("Save annotation", type="primary", icon=":material/edit_note:", on_click=_save,
                              args=(corpus, by_id, key))
    error = st.session_state.pop(f"{key}-error", None)
    if error:
        st.error(escape(error))
    if st.session_state.pop(f"{key}-saved", None) and in_dialog:
        st.rerun()  # closes the dialog


def _save(corpus, by_id: dict, key: str) -> None:
    passage = by_id[st.session_state[f"{key}-pid"]]
    quote = st.session_state.get(f"{key}-quote", "").strip()
    coll = st.session_state.get(f"{key}-coll", "(none)")
    if coll == "New collection…":
        coll = st.session_state.get(f"{key}-newcoll", "").strip()
    collections = [coll] if coll and coll != "(none)" else []
    try:
        if quote:
            start, end = span_in_passage(passage.text, quote, st.session_state.get(f"{key}-offset"))
        else:
            start, end = 0, len(passage.text)
        a = annotate_span(corpus, passage, start, end, store(), note=st.session_state.get(f"{key}-note", ""),
                          tags=_tags(st.session_state.get(f"{key}-tags", "")), collections=collections)
    except CorpusSearchError as exc:
        st.session_state[f"{key}-error"] = str(exc)
        return
    st.session_state.pop(f"{key}-offset", None)
    for field in ("quote", "note", "tags", "newcoll"):
        st.session_state[f"{key}-{field}"] = ""
    st.session_state[f"{key}-saved"] = True
    st.toast(f"Annotation saved ({len(a.exact)} characters highlighted)")


def _passage_label(p) -> str:
    where = passage_locator(p)
    words = " ".join(p.text.split()[:10])
    return f"{where} · {words}…" if where else f"{words}…"


@st.dialog("Annotate", width="large")
def annotate_dialog(corpus, passage_id: str, start: int | None = None, end: int | None = None) -> None:
    """From a search result or a quote-check match: the passage, its words prefilled."""
    try:
        passage = corpus.passage(passage_id)
    except CorpusSearchError as exc:
        st.error(escape(str(exc)))
        return
    key = f"dlg-{passage_id}"
    chosen = None
    if start is not None and end is not None and not st.session_state.get(f"{key}-quote"):
        chosen = {"pid": passage_id, "text": passage.text[start:end], "offset": start}
    annotate_form(corpus, [passage], key, chosen, in_dialog=True)


def note_card(a, with_quote: bool = True) -> str:
    """One annotation as safe HTML: quote, note, tags, author."""
    parts = []
    if with_quote:
        parts.append(f"<q>{escape(a.exact[:400])}</q>")
    if a.orphan:
        parts.append('<span class="cs-badge">orphan: not found in the current source</span>')
    if a.original:
        parts.append(f'<div class="cs-meta">The source changed under this note; it was made on: '
                     f'<q>{escape(a.original[:400])}</q></div>')
    if a.note:
        parts.append(note_html(a.note))
    meta = [escape(a.author), escape(a.updated[:16].replace("T", " "))]
    if a.tags:
        meta.append(" ".join(f'<span class="cs-badge">{escape(t)}</span>' for t in a.tags))
    parts.append(f'<div class="cs-meta">{" · ".join(meta)}</div>')
    css = "cs-annot cs-orphan" if a.orphan else "cs-annot"
    return f'<div class="{css}">{"".join(parts)}</div>'


def edit_controls(a, key: str) -> None:
    """Edit the note (refused if it changed elsewhere since this page loaded) or delete it."""
    note_key, tags_key, base_key = f"{key}-note-{a.id}", f"{key}-tags-{a.id}", f"{key}-base-{a.id}"
    stored = (a.version, a.note, ", ".join(a.tags))
    base = st.session_state.get(base_key)
    if base is None or (base[0] != a.version and st.session_state.get(note_key, base[1]) == base[1]
                        and st.session_state.get(tags_key, base[2]) == base[2]):
        # First shown, or changed elsewhere while this box was left untouched: show what is stored now.
        st.session_state[base_key] = base = stored
        st.session_state[note_key], st.session_state[tags_key] = a.note, stored[2]
    st.text_area("Note", key=note_key, height=80)
    st.text_input("Tags", key=tags_key)
    left, right = st.columns(2)
    if left.button("Save", key=f"{key}-save-{a.id}", icon=":material/save:"):
        try:
            # The version this box's text was loaded at: an edit made elsewhere since then is not overwritten.
            store().update(a.id, base[0], note=st.session_state[note_key], tags=_tags(st.session_state[tags_key]))
        except AnnotationConflict as exc:
            # Refused, not lost: the stored note comes back in the box, the user's text below it.
            yours = st.session_state[note_key]
            st.session_state[base_key] = None  # the next run loads what is stored now
            st.error(escape(str(exc)))
            st.code(yours, language=None, wrap_lines=True)
            return
        except CorpusSearchError as exc:
            st.error(escape(str(exc)))
            return
        st.session_state[base_key] = None  # loaded again at the version just saved
        st.rerun()
    if right.button("Delete", key=f"{key}-del-{a.id}", icon=":material/delete:"):
        store().delete(a.id)
        st.rerun()


EXTENSIONS = {"w3c": ("jsonld", "application/ld+json"), "csv": ("csv", "text/csv"),
              "bibtex": ("bib", "application/x-bibtex"), "ris": ("ris", "application/x-research-info-systems"),
              "csl-json": ("json", "application/json"), "markdown": ("md", "text/markdown")}


def export_section(annotations, corpus, key: str, file_stem: str) -> None:
    """Export these annotations in a chosen format: a download button and a preview."""
    st.subheader("Export")
    fmt = st.selectbox("Format", EXPORT_FORMATS, key=f"{key}_fmt")
    try:
        data, warnings = export_annotations(annotations, fmt, corpus)
    except CorpusSearchError as exc:
        st.error(escape(str(exc)))
        return
    if warnings:  # orphans have no passage to cite; their quotes are in the W3C export
        st.warning(f"{count(len(warnings), 'orphan (its words', 'orphans (words')} no longer found in their source) "
                   f"{'is' if len(warnings) == 1 else 'are'} left out of this export; the W3C export keeps "
                   f"{'it' if len(warnings) == 1 else 'them'}.")
    ext, mime = EXTENSIONS.get(fmt, ("txt", "text/plain"))
    n = len(annotations) - len(warnings)  # what the file holds
    st.download_button(f"Download {n} annotation{'' if n == 1 else 's'} as {fmt}", data,
                       file_name=f"{file_stem}.{ext}", mime=mime, key=f"{key}_go", icon=":material/download:")
    with st.expander("Preview"):
        st.code(data[:5000], language=None)


# -- the collection -------------------------------------------------------------------------
def add_to_collection(passage_id: str, quote: str | None = None, offset: int | None = None,
                      end_offset: int | None = None) -> None:
    """Save the passage (or the quoted span of it) to the collection last opened, in the annotation store at once.

    A session list would be lost on a reload or a restart; the store is what the Collection page shows.
    """
    corpus = common.get_corpus()
    target = st.session_state.get("coll-name") or "Collection"  # the one last opened on the Collection page
    notes = store()
    try:
        passage = corpus.passage(passage_id)
        start = offset or 0
        end = end_offset or len(passage.text)
        already = [a for a in notes.list(collection=target)
                   if a.passage_id == passage_id and (a.passage_start, a.passage_end) == (start, end)]
        if already:
            st.toast(escape(f"Already in the collection “{target}”"))
            return
        annotate_span(corpus, passage, start, end, notes, collections=[target])
    except CorpusSearchError as exc:
        st.toast(escape(f"Not saved: {exc}"))
        return
    n = len(notes.list(collection=target))
    st.toast(escape(f"Saved to the collection “{target}” ({n} item{'' if n == 1 else 's'})"))
