"""Documents: every source with its record and build status; add a document (with its record), remove one to the
trash, restore or purge it.

Builds run in their own process (common.run_build): this page shows their progress with a
Cancel button, and lists the sources that failed with their reason, to retry or remove.
"""

from __future__ import annotations

import streamlit as st

from corpus_search import trash
from corpus_search.app import common
from corpus_search.errors import CorpusSearchError
from corpus_search.models import STATUS_PASSWORD, status_ok
from corpus_search.records import SOURCE_SUFFIXES
from corpus_search.render import authors_line, escape
from corpus_search.uploads import (RECORD_TYPES, UploadRecord, generated_name, remove_source, save_upload,
                                   set_password)


def failed_sources(documents) -> None:
    """Each source that did not build, with its reason and a Retry and a Remove button."""
    failed = [d for d in documents if not status_ok(d.status)]
    if not failed:
        return
    st.subheader(f"Sources that did not build ({len(failed)})")
    for d in failed:
        text, retry, remove = st.columns([6, 1, 1], vertical_alignment="center")
        where = d.path + (f" > {d.attachment}" if d.attachment else "")
        # An upload is stored under a generated name: say which file it was (its title, the file name without one).
        named = d.record.title if generated_name(d.path) and d.record.title else ""
        text.warning(escape((f"{named} ({where})" if named else where) + f": {d.status}"
                            + (f": {d.message}" if d.message else "")))
        if d.status == STATUS_PASSWORD and not d.parent:
            with text.form(f"pw_{d.doc_id}", border=False):
                password = st.text_input("Its password", type="password", key=f"pw_text_{d.doc_id}",
                                         help="Kept in the document's record (its .toml) as password = \"...\"")
                if st.form_submit_button("Open it with this password and rebuild"):
                    try:
                        set_password(common.corpus_dir(), d.path, password)
                    except CorpusSearchError as exc:
                        st.error(escape(str(exc)))
                    else:
                        common.run_build(retry=(d.doc_id,))
        # A retry processes the file again though its bytes are unchanged (after raising a cap, say).
        if retry.button("Retry", key=f"retry_{d.doc_id}", help="Process this source again"):
            common.run_build(retry=(d.doc_id,))
        if d.parent:  # an attachment has no file of its own: removing it would remove its whole message
            continue
        if remove.button("Remove", key=f"remove_{d.doc_id}", help="Move its file and record to the trash (restorable), then rebuild"):
            try:
                remove_source(common.corpus_dir(), d.path)
            except CorpusSearchError as exc:
                st.error(escape(str(exc)))
            else:
                st.success(escape(f"Moved {d.path} to the trash; restore it below. Rebuilding the index…"))
                common.run_build()


def not_documents(files) -> None:
    """Files in the corpus folder the build did not make a document of (a format it does not read, a broken
    record): named with the reason, so nothing in the folder is silently left out."""
    if not files:
        return
    st.subheader(f"Files that are not documents ({len(files)})")
    for f in files:
        st.warning(escape(f"{f['path']}: {f['status']}: {f['message']}"))


st.title("Documents")
corpus = common.get_corpus()
documents = corpus.documents() if corpus is not None else []

if corpus is None:
    st.warning("There is no index yet. Build one from the corpus folder, or add a document below.")
    if st.button("Build the index", key="doc_build", type="primary"):
        common.run_build()
    common.build_panel()
else:
    ok = sum(1 for d in documents if status_ok(d.status))
    st.caption(f"{len(documents)} documents in `{common.corpus_dir()}` · {ok} built without problems · "
               f"index generation {corpus.generation.name}")
    st.dataframe(
        [{"id": d.doc_id, "title": d.record.title, "authors": authors_line(d.record.authors, limit=4),
          "year": d.record.year, "type": d.record.type,
          "publisher / journal": d.record.journal or d.record.publisher or "",
          "status": d.status, "message": d.message, "pages": d.pages, "passages": d.passages,
          "cited by": d.record.cite_by, "file": d.path + (f" > {d.attachment}" if d.attachment else ""),
          "record": "guessed (no .toml)" if d.record.guessed else "from .toml"} for d in documents],
        hide_index=True, key="doc_table",
    )
    if st.button("Rebuild (only what changed)", key="doc_rebuild"):
        common.run_build()
    common.build_panel()
    failed_sources(documents)
    not_documents(corpus.unindexed())
    notes = [d for d in documents if status_ok(d.status) and d.message]
    for d in notes:
        st.warning(escape(f"{d.path}: {d.status}: {d.message}"))

st.subheader("Add a document")
_UPLOAD_KEYS = ("up_file", "up_title", "up_authors", "up_year", "up_type", "up_publisher", "up_journal", "up_password")
# A file added leaves an empty form for the next one (its outcome said above it); a refused one keeps what was
# typed, so a mistyped year costs one field, not the form.
done = st.session_state.pop("_up_done", None)
if done is not None:
    getattr(st, done[0])(done[1])
with st.form("upload", clear_on_submit=False):
    upload = st.file_uploader("PDF, Word, web page, e-mail, e-book, plain text or Markdown",
                              type=[x.lstrip(".") for x in SOURCE_SUFFIXES], key="up_file")
    title = st.text_input("Title", key="up_title", help="Left empty, the file name is used")
    authors = st.text_input("Authors", key="up_authors", help="Separate names with semicolons: Li Wei; Anna Smith")
    c1, c2 = st.columns(2)
    year = c1.text_input("Year", key="up_year")
    kind = c2.selectbox("Type", RECORD_TYPES, key="up_type")
    c3, c4 = st.columns(2)
    publisher = c3.text_input("Publisher", key="up_publisher")
    journal = c4.text_input("Journal", key="up_journal")
    password = st.text_input("Password (an encrypted PDF)", type="password", key="up_password",
                             help="Kept in the document's record (its .toml) as password = \"...\"")
    submitted = st.form_submit_button("Add and rebuild", type="primary")

if submitted:
    if upload is None:
        st.error("Choose a file to add first.")
    elif year.strip() and not year.strip().isdigit():
        st.error(f"The year must be a number like 2016, not {escape(repr(year.strip()[:20]))}.")
    else:
        record = UploadRecord(
            title=title, authors=tuple(a.strip() for a in authors.split(";") if a.strip()),
            year=int(year) if year.strip() else None, type=kind, publisher=publisher or None, journal=journal or None,
        )
        try:
            saved = save_upload(common.corpus_dir(), upload.name, upload.getvalue(), record)
            if password:  # also for a file already here: it may be the one that failed without its password
                set_password(common.corpus_dir(), str(saved.path.relative_to(common.corpus_dir())), password)
        except CorpusSearchError as exc:
            st.error(escape(str(exc)))
        else:
            if saved.duplicate and password:
                done = ("success", f"This file is already in the corpus (as {saved.path.relative_to(common.corpus_dir())}); "
                        "its password is now in its record. Rebuilding the index…")
                common.run_build(retry=(saved.doc_id,))
            elif saved.duplicate:
                done = ("info", f"This file is already in the corpus (as {saved.path.relative_to(common.corpus_dir())}, "
                        f"document {saved.doc_id}); nothing was added.")
            else:
                done = ("success", f"Saved as {saved.path.relative_to(common.corpus_dir())} (document {saved.doc_id}). "
                        "Rebuilding the index…")
                common.run_build()
            st.session_state["_up_done"] = done
            for key in _UPLOAD_KEYS:
                st.session_state.pop(key, None)
            st.rerun()



def remove_and_trash(documents) -> None:
    """Remove a document to the trash; restore or purge what is there (kept apart from the rest of the page)."""
    folder = common.corpus_dir()
    if documents:
        st.subheader("Remove a document")
        paths = {d.doc_id: d.path for d in documents if d.parent is None}  # attachments go with their message
        titles = {d.doc_id: d.record.title for d in documents}
        doomed = st.selectbox("Document", list(paths), key="rm_doc",
                              format_func=lambda d: f"{titles[d]} ({paths[d]})")
        if st.button("Move to the trash and rebuild", key="rm_go"):
            try:
                item = trash.remove(folder, paths[doomed])
            except CorpusSearchError as exc:
                st.error(escape(str(exc)))
            else:
                st.success(f"Moved {escape(item.path)} to the trash (item {item.id}); restore it below. Rebuilding the index…")
                if common.run_build():
                    st.button("Show the updated list", key="rm_done")

    try:
        items = trash.list_trash(folder)
    except CorpusSearchError as exc:
        st.error(escape(str(exc)))
        return
    st.subheader("Trash")
    if not items:
        st.caption(f"The trash (`{trash.TRASH_DIR}/` in the corpus folder) is empty.")
        return
    st.dataframe([{"id": i.id, "file": i.path, "removed (UTC)": i.removed_at,
                   "files": ", ".join(f.path + ("" if f.moved else " (copy; still used by another source)")
                                      for f in i.files)} for i in items], hide_index=True, key="trash_table")
    labels = {i.id: f"{i.path} (removed {i.removed_at})" for i in items}
    chosen = st.selectbox("Trashed document", list(labels), key="trash_item", format_func=labels.get)
    c1, c2 = st.columns(2)
    if c1.button("Restore and rebuild", key="trash_restore"):
        try:
            item = trash.restore(folder, chosen)
        except CorpusSearchError as exc:
            st.error(escape(str(exc)))
        else:
            st.success(f"Restored {escape(item.path)}. Rebuilding the index…")
            if common.run_build():
                st.button("Show the updated list", key="trash_restored")
    sure = c2.checkbox("Delete it for good: from the trash and every index generation (no undo)", key="purge_sure")
    if c2.button("Purge", key="trash_purge", disabled=not sure):
        try:
            # Purge rewrites what the index already holds (no source is parsed), so it runs here, under the build lock.
            with st.spinner("Purging: rewriting the index without it…"):
                plan = trash.purge(folder, common.index_dir(), chosen)
        except CorpusSearchError as exc:
            st.error(escape(str(exc)))
        else:
            # Nothing purged may be served from memory either.
            common._open_corpus.clear()
            st.session_state.pop("_search_cache", None)
            st.success(f"Purged: deleted {escape(plan.describe())}; the index was rewritten without it and older "
                       "index generations deleted.")
            st.button("Show the updated list", key="trash_purged")


remove_and_trash(documents)
