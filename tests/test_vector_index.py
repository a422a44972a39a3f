"""The vector index's first pass: a scan of PCA-reduced vectors, re-scored exactly, finds what the exact scan finds.

On the bundled index (507 passages) the first pass is off by default (`first_pass_min_rows`); these
tests switch it on and make its re-scored pool small (40 to 200 rows of 507), so the reduced scan
itself has to pick the right candidates for the top 10 to come out the same.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from corpus_search.backends import row_order
from corpus_search.generations import Generations, verify_files
from corpus_search.search import Allowed, Filters
from corpus_search.vector_index import BASIS, REDUCED, VectorIndex

QUERIES = [
    "Power of Siberia gas contract price",
    "arms sales to China",
    "sanctions after the annexation of Crimea",
    "Central Asia as a zone of competition",
    "liquefied natural gas from the Arctic",
    "trade settled in national currencies",
    "how the Chinese public sees Russia",
    "nuclear power cooperation",
    "who is the junior partner in the relationship",
    "military exercises together at sea",
]


def _exact(monkeypatch):
    monkeypatch.setenv("CORPUS_SEARCH_FIRST_PASS_MIN_ROWS", str(10**12))


def _first_pass(monkeypatch, rescore: int = 30, bf16: str = "auto"):
    monkeypatch.setenv("CORPUS_SEARCH_FIRST_PASS_MIN_ROWS", "0")
    monkeypatch.setenv("CORPUS_SEARCH_FIRST_PASS_RESCORE", str(rescore))
    monkeypatch.setenv("CORPUS_SEARCH_FIRST_PASS_BF16", bf16)


def _bf16_available() -> bool:
    from corpus_search.query_encoder import bf16_is_fast

    return bf16_is_fast()


# The first pass as the app and the API run it (bfloat16, where the CPU has it), and in float32 (a CLI search).
PRECISIONS = [pytest.param("auto", id="bf16"), pytest.param("0", id="float32")]


def test_the_build_saves_a_first_pass_the_checksums_cover(built_index, corpus):
    gen = Generations(built_index).current()
    files = json.loads((gen / "manifest.json").read_text())["files"]
    assert {BASIS, REDUCED} <= set(files)
    assert corpus.vectors.basis.shape == (384, 96)
    assert corpus.vectors.reduced.shape == (len(corpus.vectors), 96)


@pytest.mark.parametrize("bf16", PRECISIONS)
@pytest.mark.parametrize("query", QUERIES)
def test_the_first_pass_finds_the_exact_top_10(corpus, monkeypatch, query, bf16):
    qvec = corpus.encode_query(query)
    _exact(monkeypatch)
    exact = corpus.vectors.search(qvec, k=10)
    _first_pass(monkeypatch, bf16=bf16)  # the pool: max(30, 4 x 10) = 40 rows of 507 re-scored
    fast = corpus.vectors.search(qvec, k=10)
    assert [pid for pid, _ in fast] == [pid for pid, _ in exact]
    assert np.allclose([s for _, s in fast], [s for _, s in exact], atol=1e-6)  # exact scores, not approximations


@pytest.mark.parametrize("bf16", PRECISIONS)
@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_search_results_are_the_same_with_the_first_pass(corpus, monkeypatch, mode, bf16):
    monkeypatch.setenv("CORPUS_SEARCH_CANDIDATES", "50")  # a pool of 4 x 50 = 200 rows, under half the index
    _exact(monkeypatch)
    exact = [[h.passage.passage_id for h in corpus.search(q, mode=mode).hits] for q in QUERIES]
    _first_pass(monkeypatch, bf16=bf16)
    fast = [[h.passage.passage_id for h in corpus.search(q, mode=mode).hits] for q in QUERIES]
    assert fast == exact


def test_a_filtered_first_pass_keeps_to_the_filter_and_finds_the_exact_top_10(corpus, monkeypatch):
    allowed = set(corpus.vectors.ids[::2])  # half the passages: over a quarter, so it scans and masks
    for query in QUERIES[:5]:
        qvec = corpus.encode_query(query)
        _exact(monkeypatch)
        exact = corpus.vectors.search(qvec, k=10, allowed=allowed)
        _first_pass(monkeypatch)
        fast = corpus.vectors.search(qvec, k=10, allowed=allowed)
        assert {pid for pid, _ in fast} <= allowed
        assert [pid for pid, _ in fast] == [pid for pid, _ in exact]


def test_a_corrupt_first_pass_file_is_caught_by_the_checksums(built_index, tmp_path):
    import shutil

    gen = tmp_path / "gen"
    shutil.copytree(Generations(built_index).current(), gen)
    reduced = np.load(gen / REDUCED)
    reduced[0] = -reduced[0]
    np.save(gen / REDUCED, reduced, allow_pickle=False)  # same size, other numbers
    manifest = json.loads((gen / "manifest.json").read_text())
    assert any(REDUCED in p for p in verify_files(gen, manifest))


def test_without_a_first_pass_the_index_is_scanned_exactly_and_no_stale_file_is_left(corpus, tmp_path, monkeypatch):
    ids, matrix = list(corpus.vectors.ids), np.asarray(corpus.vectors.matrix)
    VectorIndex.save(tmp_path, ids, matrix)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    VectorIndex.save(tmp_path, ids, matrix)  # the same vectors give the same files: a rebuild changes nothing
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first

    monkeypatch.setenv("CORPUS_SEARCH_FIRST_PASS_DIMS", "0")
    VectorIndex.save(tmp_path, ids, matrix)
    assert not (tmp_path / BASIS).exists() and not (tmp_path / REDUCED).exists()
    plain = VectorIndex.open(tmp_path)
    assert plain.basis is None
    qvec = corpus.encode_query(QUERIES[0])
    _exact(monkeypatch)
    exact = corpus.vectors.search(qvec, k=10)
    _first_pass(monkeypatch)  # asked for, but there is none: the exact scan answers
    assert plain.search(qvec, k=10) == exact


def test_a_first_pass_that_does_not_fit_the_vectors_is_refused(corpus, tmp_path):
    from corpus_search.errors import IndexMissingError

    VectorIndex.save(tmp_path, list(corpus.vectors.ids), np.asarray(corpus.vectors.matrix))
    np.save(tmp_path / REDUCED, np.zeros((3, 96), dtype=np.float32), allow_pickle=False)
    with pytest.raises(IndexMissingError, match="corpus-search build"):
        VectorIndex.open(tmp_path)


class _Payload:
    def __init__(self, mark):
        self.mark = mark

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.mark}",)


@pytest.mark.parametrize("name", [BASIS, REDUCED])
def test_a_pickled_first_pass_file_is_refused_and_never_run(corpus, tmp_path, name):
    from corpus_search.errors import IndexMissingError

    folder, mark = tmp_path / "index", tmp_path / "ran"
    VectorIndex.save(folder, list(corpus.vectors.ids), np.asarray(corpus.vectors.matrix))
    np.save(folder / name, np.array([_Payload(mark)], dtype=object), allow_pickle=True)
    with pytest.raises(IndexMissingError, match="corpus-search build"):
        VectorIndex.open(folder)
    assert not mark.exists()


def _every_row_scored(corpus, qvec, depth, min_chars, allowed=None):
    """The semantic side by its definition: each passage by its vector, a long one also by its best sentence."""
    ids = corpus.vectors.ids
    q = np.asarray(qvec, dtype=np.float32)
    scores = np.asarray(corpus.vectors.matrix) @ q
    texts = corpus.store.get_passages(ids)
    for row, pid in enumerate(ids):
        if len(texts[pid].text) > min_chars:
            _, vectors = corpus.sentences.of_passage(row)
            if len(vectors):
                scores[row] = max(scores[row], float((vectors @ q).max()))
    rows = [i for i, pid in enumerate(ids) if allowed is None or pid in allowed]
    rows.sort(key=lambda i: (-scores[i], ids[i]))
    return [(ids[i], float(scores[i])) for i in rows[:depth]]


@pytest.mark.parametrize("first_pass", [False, "auto", "0"], ids=["exact", "first pass bf16", "first pass float32"])
@pytest.mark.parametrize("filtered", [False, True])
def test_the_semantic_side_ranks_as_scoring_every_passage_and_long_passage_sentence(corpus, monkeypatch, first_pass,
                                                                                      filtered):
    monkeypatch.setenv("CORPUS_SEARCH_LONG_PASSAGE_CHARS", "800")  # more long passages than the default makes
    if first_pass:
        _first_pass(monkeypatch, bf16=first_pass)
    else:
        _exact(monkeypatch)
    allowed = corpus.searcher.allowed_passages(Filters(entities=("China",))) if filtered else None
    long_ones = sum(len(p.text) > 800 for p in corpus.store.get_passages(corpus.vectors.ids).values())
    assert long_ones > 20
    for query in QUERIES:
        qvec = corpus.encode_query(query)
        got = corpus.searcher._semantic(qvec, 50, allowed)
        want = _every_row_scored(corpus, qvec, 50, 800, allowed)
        # The first pass re-scores only 200 of 507 rows: its top 10 must still be the exact one.
        n = 10 if first_pass else 50
        assert [pid for pid, _ in got[:n]] == [pid for pid, _ in want[:n]], query
        assert np.allclose([s for _, s in got[:n]], [s for _, s in want[:n]], atol=1e-5)
        if allowed is not None:
            assert {pid for pid, _ in got} <= allowed


@pytest.mark.parametrize("bf16", PRECISIONS)
def test_long_passages_sentences_are_first_scanned_reduced_and_only_the_best_scored_exactly(corpus, monkeypatch, bf16):
    """The sentence scan of long passages takes the same first pass as the passage vectors: with it, only the
    pool's sentences get a score (the rest -inf), and those are the exact cosines; the ranking above shows
    the semantic side's top 10 is still the exact one."""
    from corpus_search import config

    monkeypatch.setenv("CORPUS_SEARCH_LONG_PASSAGE_CHARS", "800")
    searcher = corpus.searcher
    rows = searcher.sentences.long_rows(searcher._passage_lengths(), config.get_int("long_passage_chars"))
    owners, starts = searcher.sentences.long_owners(rows)
    qvec = corpus.encode_query(QUERIES[0])
    _exact(monkeypatch)
    exact = searcher._long_scores(rows, owners, starts, qvec, 50, None)
    _first_pass(monkeypatch, bf16=bf16)  # a pool of max(30, 4 x 50) = 200 of the 858 sentences over 800 characters
    fast = searcher._long_scores(rows, owners, starts, qvec, 50, None)
    if bf16 == "auto" and _bf16_available():
        import torch

        assert searcher.sentences.long_reduced(rows, corpus.vectors.basis, True).dtype == torch.bfloat16
    assert len(rows) > 400 and np.isfinite(exact).all()
    scored = np.isfinite(fast)
    assert scored.sum() == 200 and np.allclose(fast[scored], exact[scored], atol=1e-6)
    assert np.argmax(exact) in np.flatnonzero(scored)


@pytest.mark.parametrize("share", [2, 20])  # half the passages (the filter asked per row), a twentieth (ids looked up)
def test_a_filters_row_mask_marks_exactly_its_passages(corpus, share):
    ids = corpus.vectors.ids
    allowed = set(ids[::share]) | {"no-such-document:0001"}
    mask = corpus.vectors.allowed_mask(allowed)
    assert [ids[i] for i in np.flatnonzero(mask)] == [pid for pid in ids if pid in allowed]


def test_a_first_filtered_query_makes_one_row_mask_for_both_backends(corpus):
    # After a full build the keyword and vector rows are the same passages in the same order: both
    # backends wrote the same digest, and a filter's row mask is made once and used by both.
    scorer = corpus.keyword._scorer
    assert scorer.rows is not None and scorer.rows == corpus.vectors.rows
    allowed = Allowed(corpus.vectors.ids[::3])
    made = []
    real = scorer._only
    scorer._only = lambda a: made.append("keyword") or real(a)
    try:
        keep = scorer.mask(allowed=allowed)
        mask = corpus.vectors.allowed_mask(allowed)
    finally:
        del scorer._only
    assert made == ["keyword"] and len(allowed._memo) == 1
    assert np.array_equal(keep, mask)
    assert [corpus.vectors.ids[i] for i in np.flatnonzero(mask)] == list(corpus.vectors.ids[::3])


def test_backends_whose_rows_differ_share_no_mask(tmp_path):
    ids = ["a:1", "b:1", "c:1"]
    VectorIndex.save(tmp_path / "x", ids, np.eye(3, dtype=np.float32))
    VectorIndex.save(tmp_path / "y", ids[::-1], np.eye(3, dtype=np.float32))
    x, y = VectorIndex.open(tmp_path / "x"), VectorIndex.open(tmp_path / "y")
    assert x.rows == row_order(ids) and y.rows != x.rows
    allowed = Allowed({"a:1"})
    assert x.allowed_mask(allowed).tolist() == [True, False, False]
    assert y.allowed_mask(allowed).tolist() == [False, False, True]


def test_the_app_and_api_scan_in_bf16_where_the_cpu_has_it_and_a_cli_search_in_float32(built_index, monkeypatch):
    """Corpus.open (the app, the API) encodes with torch, so its first pass runs in bfloat16 when the CPU multiplies
    it natively; `few_queries` (a CLI search) keeps float32; the setting turns it off; a bad value is an error."""
    from corpus_search.api import Corpus
    from corpus_search.errors import UsageError

    _first_pass(monkeypatch)
    monkeypatch.setenv("CORPUS_SEARCH_CANDIDATES", "50")  # a pool of 200 rows, under half the index: a first pass runs
    monkeypatch.setenv("CORPUS_SEARCH_QUERY_ENCODER", "auto")
    api = Corpus.open(built_index)
    cli = Corpus.open(built_index, few_queries=True)
    try:
        api.search("Power of Siberia gas contract price", mode="semantic")
        cli.search("Power of Siberia gas contract price", mode="semantic")
        assert api.vectors.scans_bf16() == _bf16_available()
        if _bf16_available():
            import torch

            assert api.vectors._bf16.dtype == torch.bfloat16 and tuple(api.vectors._bf16.shape) == api.vectors.reduced.shape
        assert not cli.vectors.scans_bf16() and cli.vectors._bf16 is None
        monkeypatch.setenv("CORPUS_SEARCH_FIRST_PASS_BF16", "0")
        assert not api.vectors.scans_bf16()
        monkeypatch.setenv("CORPUS_SEARCH_FIRST_PASS_BF16", "half")
        with pytest.raises(UsageError, match="first_pass_bf16"):
            api.search("Power of Siberia", mode="semantic")
    finally:
        api.close()
        cli.close()


def test_bf16_is_kept_only_where_it_is_measured_faster(monkeypatch):
    """Support is not speed: on a Xeon with AVX512-BF16 the bfloat16 scan took 6.0 ms against 1.6 in float32."""
    from corpus_search import query_encoder

    if not query_encoder.bf16_supported():
        pytest.skip("this CPU has no native bfloat16: never chosen")
    for times, chosen in (([0.6, 0.16], False), ([0.1, 0.4], True), ([0.9, 1.0], False)):  # bf16 first, then f32
        query_encoder.bf16_is_fast.cache_clear()
        runs = iter(times)
        monkeypatch.setattr(query_encoder, "_best", lambda run, _runs=runs: (run(), next(_runs))[1])
        assert query_encoder.bf16_is_fast() is chosen, times
    query_encoder.bf16_is_fast.cache_clear()


def test_a_cpu_whose_flags_name_no_bfloat16_is_answered_without_asking_torch():
    """The onnx backend loads no torch: a CPU without bfloat16 instructions must not cost torch's import to learn it."""
    import subprocess
    import sys

    probe = ("import sys, pathlib\n"
             "real = pathlib.Path.read_text\n"
             "def fake(self, *a, **k):\n"
             "    return 'processor : 0\\nflags : fpu sse2 avx2 avx512f\\n' if str(self) == '/proc/cpuinfo' else real(self, *a, **k)\n"
             "pathlib.Path.read_text = fake\n"
             "from corpus_search.query_encoder import bf16_supported\n"
             "print(bf16_supported(), 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_reduced_scores_in_bf16_are_close_to_float32(corpus):
    """The bfloat16 scan is an approximation of the float32 one (about 3 significant digits), never another ranking."""
    from corpus_search.query_encoder import bf16_supported

    if not bf16_supported():
        pytest.skip("this CPU has no native bfloat16: the first pass stays in float32")
    from corpus_search.vector_index import reduced_scores, to_bf16

    reduced = np.asarray(corpus.vectors.reduced)
    q = corpus.encode_query("trade settled in national currencies") @ corpus.vectors.basis
    exact, half = reduced_scores(reduced, q), reduced_scores(to_bf16(reduced), q)
    assert half.dtype == np.float32 and half.shape == exact.shape
    assert np.abs(half - exact).max() < 0.02 and np.corrcoef(half, exact)[0, 1] > 0.999
    assert len(set(np.argsort(-half)[:20]) & set(np.argsort(-exact)[:20])) >= 17
