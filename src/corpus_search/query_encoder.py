"""A query encoder that needs neither torch nor sentence-transformers.

Importing sentence-transformers costs about 9 s here, which a user pays on every
cold semantic query. This module runs the same all-MiniLM-L6-v2 weights (read
straight from the package's model.safetensors, memory-mapped) through a small
NumPy BERT forward pass, with the model's own tokenizer.json through the Rust
`tokenizers` library, then mean-pools and normalises as the model's
sentence-transformers modules say. Passages are still embedded at build time
by sentence-transformers itself; tests check both give the same vectors.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


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


class QueryEncoder:
    """all-MiniLM-L6-v2 in NumPy: text -> normalised 384-d vector."""

    def __init__(self, model_dir: str | Path):
        from tokenizers import Tokenizer

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

    def encode(self, text: str) -> np.ndarray:
        from threadpoolctl import ThreadpoolController

        # One query's matrices are tiny: BLAS threads only fight each other (4x slower
        # on a busy 2-core machine), so this runs on one. The controller is made once:
        # threadpool_limits() scans the loaded libraries on every call.
        if self._threads is None:
            self._threads = ThreadpoolController()
        with self._threads.limit(limits=1):
            return self._encode(text)

    def _encode(self, text: str) -> np.ndarray:
        enc = self.tokenizer.encode(text)
        ids = np.asarray(enc.ids, dtype=np.int64)
        types = np.asarray(enc.type_ids, dtype=np.int64)
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][types]
        ).astype(np.float32)
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
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
        pooled = x.mean(0)  # no padding: every token counts (the model's mean pooling)
        norm = np.linalg.norm(pooled)
        return (pooled / norm if norm else pooled).astype(np.float32)
