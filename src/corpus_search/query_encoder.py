"""A query encoder that needs no sentence-transformers, and torch only where it pays.

Importing sentence-transformers costs about 9 s here, which a user pays on every
cold semantic query. This module runs the same all-MiniLM-L6-v2 weights (read
straight from the package's model.safetensors, memory-mapped) through a small
BERT forward pass, with the model's own tokenizer.json through the Rust
`tokenizers` library, then mean-pools and normalises as the model's
sentence-transformers modules say. Passages are still embedded at build time
by sentence-transformers itself; tests check both give the same vectors.

Three backends run the same pass. "numpy" starts at once. "torch" multiplies the
small matrices of one query about twice as fast (MKL against NumPy's OpenBLAS:
encoding 8.2 -> 4.1 ms on one machine), but importing torch costs 1-3 s. "onnx" runs
the pass as an ONNX Runtime graph (query_graph.py), faster again (3-7 ms against
torch's 5-10 on another); importing it costs about 1 s. Those two pay in a process
that answers many queries (the app, the API, `batch`), not in a CLI search that
answers one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import struct
import threading
import time
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}

_torch_lock = threading.Lock()
_torch_users = 0
_torch_saved = 1


@contextlib.contextmanager
def one_torch_thread():
    """Torch on one thread while inside (queries and scans are small: threads only fight on a busy machine).

    The process's own count is put back when the last user leaves, so overlapping users (two threads of the
    app) cannot leave it at 1 for the build's embedding model."""
    global _torch_users, _torch_saved
    import torch

    with _torch_lock:
        if _torch_users == 0:
            _torch_saved = torch.get_num_threads()
            torch.set_num_threads(1)
        _torch_users += 1
    try:
        yield
    finally:
        with _torch_lock:
            _torch_users -= 1
            if _torch_users == 0:
                torch.set_num_threads(_torch_saved)


def bf16_supported() -> bool:
    """Whether this CPU multiplies bfloat16 natively (oneDNN says so); without it torch emulates it, slowly.

    On Linux a CPU whose flags name no bfloat16 instructions is answered without importing torch (1-3 s), which
    the onnx backend does not otherwise load."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        flags = None
    if flags is not None and "flags" in flags and not any(f in flags for f in ("avx512_bf16", "amx_bf16")):
        return False
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (ImportError, AttributeError, RuntimeError):
        return False


@functools.cache
def bf16_is_fast() -> bool:
    """Whether a first pass in bfloat16 beats one in float32 here: supported, and measured once per process.

    Support is not speed. On one Xeon with AVX512-BF16 (oneDNN: supported), torch's bfloat16 matrix-vector
    product over 100k x 96 reduced vectors took 6.0 ms against NumPy's 1.6 ms in float32, and semantic
    search at 100k passages was slower for it. So the two are timed on a block of the same shape (32,768 x 96,
    about 25 ms in all) and bfloat16 is kept only where it is clearly faster."""
    if not bf16_supported():
        return False
    import torch

    rows = np.random.default_rng(0).standard_normal((32768, 96), dtype=np.float32)
    x = rows[1].copy()
    with one_torch_thread(), torch.inference_mode():
        half, hx = torch.from_numpy(rows).to(torch.bfloat16), torch.from_numpy(x).to(torch.bfloat16)
        return _best(lambda: torch.mv(half, hx).float().numpy()) < 0.8 * _best(lambda: rows @ x)


def _best(run, times: int = 5) -> float:
    """The fastest of `times` runs after one to warm up, in seconds."""
    run()
    best = math.inf
    for _ in range(times):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file as read-only NumPy views (no pickle, no torch)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact (erf) GELU; vectorised erf via math.erf would be slow, so use the
    # Abramowitz-Stegun-free form from scipy-less numpy: 0.5x(1+erf(x/sqrt2)).
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _erf(x: np.ndarray) -> np.ndarray:
    # W. J. Cody's rational approximation is overkill; this one (max error 1.2e-7)
    # keeps embeddings equal to torch's to ~1e-6.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * a)
    y = 1.0 - t * np.exp(
        -a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
            0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    )
    return sign * y


BACKENDS = ("numpy", "torch", "onnx")


def backend_for(few_queries: bool) -> str:
    """The backend setting CORPUS_SEARCH_QUERY_ENCODER picks; "auto": numpy for a process of `few_queries`,
    else onnx where ONNX Runtime is installed, torch where only torch is."""
    import importlib.util

    from corpus_search import config
    from corpus_search.errors import UsageError

    choice = config.get("query_encoder").strip().lower()
    has = {name: importlib.util.find_spec(name) is not None for name in ("torch", "onnxruntime", "onnx")}
    has_onnx = has["onnxruntime"] and has["onnx"]
    if choice == "auto":
        if few_queries:
            return "numpy"
        return "onnx" if has_onnx else "torch" if has["torch"] else "numpy"
    if choice not in BACKENDS:
        raise UsageError(f"unknown query encoder {choice!r} (CORPUS_SEARCH_QUERY_ENCODER); choose from auto, "
                         + ", ".join(BACKENDS))
    if choice == "torch" and not has["torch"]:
        raise UsageError("CORPUS_SEARCH_QUERY_ENCODER=torch, but torch is not installed; run `make install`")
    if choice == "onnx" and not has_onnx:
        raise UsageError("CORPUS_SEARCH_QUERY_ENCODER=onnx, but onnxruntime or onnx is not installed; run `make install`")
    return choice


class QueryEncoder:
    """all-MiniLM-L6-v2 without sentence-transformers: text -> normalised 384-d vector."""

    def __init__(self, model_dir: str | Path, backend: str = "numpy"):
        from tokenizers import Tokenizer

        if backend not in BACKENDS:
            raise ValueError(f"unknown query encoder backend {backend!r}; choose from {', '.join(BACKENDS)}")
        self.backend = backend

        model_dir = Path(model_dir)
        cfg = json.loads((model_dir / "config.json").read_text())
        st_cfg = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.heads = cfg["num_attention_heads"]
        self.layers = cfg["num_hidden_layers"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        self.max_len = int(st_cfg.get("max_seq_length", 256))
        self.w = read_safetensors(model_dir / "model.safetensors")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_len)
        self.dim = cfg["hidden_size"]
        self._threads = None
        # Weights as the forward pass uses them: transposed, contiguous, and the three attention
        # projections fused into one matrix. Reading a transposed view of the memory map on every
        # query cost 12 ms a query; this layout costs 8 (same vectors, bit for bit).
        self._layers = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            names = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
            self._layers.append((
                np.ascontiguousarray(np.concatenate([self.w[n + ".weight"] for n in names]).T),
                np.concatenate([self.w[n + ".bias"] for n in names]),
                np.ascontiguousarray(self.w[p + "attention.output.dense.weight"].T),
                np.ascontiguousarray(self.w[p + "intermediate.dense.weight"].T),
                np.ascontiguousarray(self.w[p + "output.dense.weight"].T),
            ))
        # The numpy and torch backends change a process-wide thread count for the length of one encoding.
        self._lock = threading.Lock()
        self._torch = self._torch_layers() if backend == "torch" else None
        self._onnx = self._onnx_session() if backend == "onnx" else None

    def encode(self, text: str) -> np.ndarray:
        # One query's matrices are tiny: threads only fight each other (4x slower with
        # NumPy, 60x with torch, on a busy 2-core machine), so this runs on one.
        with self._lock:
            if self._onnx is not None:
                return _normalised(self._onnx.run(["pooled"], {"x": self._embed(text)})[0])
            if self._torch is not None:
                return self._encode_torch(text)
            from threadpoolctl import ThreadpoolController

            # The controller is made once: threadpool_limits() scans the loaded libraries on every call.
            if self._threads is None:
                self._threads = ThreadpoolController()
            with self._threads.limit(limits=1):
                return self._encode(text)

    def _embed(self, text: str) -> np.ndarray:
        """The first layer's input: word, position and type embeddings of the tokens, normalised."""
        enc = self.tokenizer.encode(text)
        ids = np.asarray(enc.ids, dtype=np.int64)
        types = np.asarray(enc.type_ids, dtype=np.int64)
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][types]
        ).astype(np.float32)
        return _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)

    def _encode(self, text: str) -> np.ndarray:
        x = self._embed(text)
        w = self.w
        n, d = x.shape
        hd = d // self.heads
        for i, (qkv, qkv_bias, attn_out, inter, out) in enumerate(self._layers):
            p = f"encoder.layer.{i}."
            y = x @ qkv + qkv_bias
            q, k, v = (y[:, j * d:(j + 1) * d].reshape(n, self.heads, hd).transpose(1, 0, 2) for j in range(3))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(1, 0, 2).reshape(n, d)
            attn = ctx @ attn_out + w[p + "attention.output.dense.bias"]
            x = _layer_norm(attn + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], self.eps)
            h = _gelu(x @ inter + w[p + "intermediate.dense.bias"])
            x = _layer_norm(h @ out + w[p + "output.dense.bias"] + x, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], self.eps)
        return _normalised(x.mean(0))  # no padding: every token counts (the model's mean pooling)

    def _onnx_session(self):
        """An ONNX Runtime session of the same layers (query_graph.py), built from the weights in memory."""
        from corpus_search import query_graph

        return query_graph.session(query_graph.minilm_graph(self._layers, self.w, self.heads, self.eps))

    def _torch_layers(self) -> list[tuple]:
        """Each layer's weights as torch tensors, in the order `_encode_torch` uses them.

        The matrices share memory with the NumPy copies above; the vectors are small and copied."""
        import torch

        out = []
        for i, (qkv, qkv_bias, attn_out, inter, outm) in enumerate(self._layers):
            p = f"encoder.layer.{i}."

            def small(name: str, p=p) -> np.ndarray:
                return np.array(self.w[p + name])  # writable: torch will not wrap the read-only memory map

            out.append(tuple(torch.from_numpy(a) for a in (
                qkv, qkv_bias,
                attn_out, small("attention.output.dense.bias"),
                small("attention.output.LayerNorm.weight"), small("attention.output.LayerNorm.bias"),
                inter, small("intermediate.dense.bias"),
                outm, small("output.dense.bias"),
                small("output.LayerNorm.weight"), small("output.LayerNorm.bias"))))
        return out

    def _encode_torch(self, text: str) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with one_torch_thread(), torch.inference_mode():
            x = torch.from_numpy(self._embed(text))
            n, d = x.shape
            heads, hd = self.heads, d // self.heads
            for qkv, qkv_b, attn_out, attn_b, ln1_w, ln1_b, inter, inter_b, out, out_b, ln2_w, ln2_b in self._torch:
                y = torch.addmm(qkv_b, x, qkv)
                q, k, v = (y[:, j * d:(j + 1) * d].reshape(n, heads, hd).transpose(0, 1) for j in range(3))
                ctx = F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(n, d)
                x = F.layer_norm(torch.addmm(attn_b, ctx, attn_out) + x, (d,), ln1_w, ln1_b, self.eps)
                h = F.gelu(torch.addmm(inter_b, x, inter))  # BERT's exact (erf) GELU, as _gelu
                x = F.layer_norm(torch.addmm(out_b, h, out) + x, (d,), ln2_w, ln2_b, self.eps)
            pooled = x.mean(0).numpy()  # no padding: every token counts (the model's mean pooling)
        return _normalised(pooled)


def _normalised(pooled: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(pooled)
    return (pooled / norm if norm else pooled).astype(np.float32)
