"""The query encoder gives the same vectors as sentence-transformers itself, on every backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from corpus_search.errors import UsageError
from corpus_search.query_encoder import BACKENDS, QueryEncoder, backend_for
from corpus_search.vector_index import Encoder, model_path

QUERIES = [
    "Why would Beijing refuse a gas route that also serves Europe?",
    "Altai pipeline",
    "Sino\u2011Russian rapprochement and the ﬁnal word of Frédéric",
    "word " * 400,  # longer than the model's 256 tokens: both truncate
    "",
]


@pytest.fixture(scope="module")
def reference():
    return Encoder()


@pytest.fixture(scope="module", params=BACKENDS)
def fast(request):
    return QueryEncoder(model_path(), request.param)


@pytest.mark.parametrize("text", QUERIES)
def test_same_vector_as_sentence_transformers(fast, reference, text):
    a = fast.encode(text)
    b = reference.encode([text])[0]
    assert a.shape == b.shape == (384,)
    assert a.dtype == np.float32
    assert float(a @ b) > 0.9999
    assert np.abs(a - b).max() < 1e-4


def test_torch_backend_leaves_torchs_thread_count_as_it_found_it():
    import torch

    encoder = QueryEncoder(model_path(), "torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        encoder.encode("Altai pipeline")  # runs on one thread: threads fight on a busy machine
        assert torch.get_num_threads() == 2  # a build in the same process keeps its threads
    finally:
        torch.set_num_threads(before)


def test_overlapping_torch_users_put_the_thread_count_back_once_the_last_leaves():
    """Two threads of the app (an encoding and a scan) overlap: the count is 1 while either runs, and the process's
    own count comes back when both are done, whatever order they leave in."""
    import torch

    from corpus_search.query_encoder import one_torch_thread

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first, second = one_torch_thread(), one_torch_thread()
        first.__enter__()
        assert torch.get_num_threads() == 1
        second.__enter__()
        first.__exit__(None, None, None)
        assert torch.get_num_threads() == 1  # the second user is still inside
        second.__exit__(None, None, None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("setting, few, expected", [
    ("auto", True, "numpy"), ("auto", False, "onnx"), ("onnx", True, "onnx"),
    ("numpy", False, "numpy"), ("torch", True, "torch"), (" Torch ", True, "torch"),
])
def test_the_setting_picks_the_backend(monkeypatch, setting, few, expected):
    monkeypatch.setenv("CORPUS_SEARCH_QUERY_ENCODER", setting)
    assert backend_for(few) == expected


def test_an_unknown_backend_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("CORPUS_SEARCH_QUERY_ENCODER", "tensorflow")
    with pytest.raises(UsageError, match="unknown query encoder 'tensorflow'.*auto, numpy, torch, onnx"):
        backend_for(False)
    with pytest.raises(ValueError, match="unknown query encoder backend"):
        QueryEncoder(model_path(), "tensorflow")


def test_a_cli_search_imports_no_runtime_and_a_batch_of_many_runs_onnx(built_index, tmp_path):
    """A one-query CLI process skips ONNX Runtime's and torch's imports (about 1 s each); a long batch pays
    ONNX Runtime's once for faster queries."""
    queries = tmp_path / "queries.txt"
    queries.write_text("\n".join(f"Altai pipeline {i}" for i in range(260)))
    probe = (
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from corpus_search.cli import cli\n"
        "r = CliRunner().invoke(cli, sys.argv[1:])\n"
        "print(json.dumps([r.exit_code, 'torch' in sys.modules, 'onnxruntime' in sys.modules,"
        " sum(json.loads(x)['mode'] == 'semantic' for x in r.output.splitlines())]))\n"
    )
    env = {**os.environ, "CORPUS_SEARCH_QUERY_ENCODER": "auto"}

    def run(*args):
        out = subprocess.run([sys.executable, "-c", probe, "--index", str(built_index), *args],
                             capture_output=True, text=True, env=env, timeout=600)
        return json.loads(out.stdout.strip().splitlines()[-1])

    code, torch_loaded, onnx_loaded, answered = run("search", "Altai pipeline", "--mode", "semantic", "--json")
    assert code == 0 and not torch_loaded and not onnx_loaded and answered == 1
    code, torch_loaded, onnx_loaded, answered = run("batch", str(queries), "--mode", "semantic", "--limit", "1",
                                                    "--json")
    assert code == 0 and onnx_loaded and answered == 260


def test_after_warm_up_the_first_search_loads_no_encoder(built_index, monkeypatch):
    """The app opens a corpus and warms it up behind its "Opening the index" spinner; the first person's first
    search then waits on no model load (1.5 s of it at 100k passages)."""
    from corpus_search import api

    def no_model(*args, **kwargs):
        raise AssertionError("a search after warm_up made a query encoder")

    corpus = api.Corpus.open(built_index)
    try:
        corpus.warm_up()
        monkeypatch.setattr(api, "QueryEncoder", no_model)
        for mode in ("semantic", "hybrid"):
            assert corpus.search("gas supplies to China by pipeline", mode=mode).hits
    finally:
        corpus.close()
