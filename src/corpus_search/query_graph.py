"""The query encoder's forward pass as an ONNX graph, run by ONNX Runtime.

The same all-MiniLM-L6-v2 layers as `QueryEncoder._encode` (the three attention projections fused,
exact GELU, post-norm, mean pooling), written as a graph over the weights already in memory: nothing
is read from or written to disk, and no model file from anywhere is ever loaded. ONNX Runtime packs the
constant weight matrices once and runs a ten-token query in about 3 ms on one core against torch's
5-8 ms on the same machine (BENCHMARKS.md, "Query encoder backends"); the vectors agree to 1e-6.

Both packages are imported here only, by a process that answers many queries (`backend_for`).
"""

from __future__ import annotations

import numpy as np


def minilm_graph(layers: list[tuple], vectors: dict[str, np.ndarray], heads: int, eps: float) -> bytes:
    """The serialized model: input "x" (tokens x hidden, the embedding layer's output) -> "pooled" (hidden).

    `layers`: per layer (qkv matrix, qkv bias, attention output matrix, intermediate matrix, output matrix),
    matrices as x @ W; `vectors`: the model's other tensors by name (biases and layer norms)."""
    from onnx import TensorProto, helper, numpy_helper

    d = layers[0][0].shape[0]
    inits, nodes = [], []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def dense(inp: str, name: str, matrix: np.ndarray, bias: np.ndarray) -> str:
        return node("Add", [node("MatMul", [inp, const(name, matrix)], name + "_mm"), const(name + "_b", bias)],
                    name + "_out")

    def add_norm(a: str, residual: str, name: str, weight: np.ndarray, bias: np.ndarray) -> str:
        return node("LayerNormalization", [node("Add", [a, residual], name + "_in"), const(name + "_w", weight),
                                           const(name + "_b", bias)], name, axis=-1, epsilon=eps)

    const("heads_shape", np.array([0, heads, d // heads], dtype=np.int64))
    const("hidden_shape", np.array([0, d], dtype=np.int64))
    const("scale", np.array(1 / np.sqrt(d // heads), dtype=np.float32))
    x = "x"
    for i, (qkv, qkv_bias, attn_out, inter, out) in enumerate(layers):
        p, v = f"l{i}.", (lambda name, i=i: vectors[f"encoder.layer.{i}.{name}"].astype(np.float32))
        y = dense(x, p + "qkv", qkv, qkv_bias.astype(np.float32))
        nodes.append(helper.make_node("Split", [y], [p + "q", p + "k", p + "v"], axis=1, num_outputs=3))
        # Heads first: q and v as (heads, tokens, head size), k as (heads, head size, tokens).
        q, k, val = (node("Transpose", [node("Reshape", [p + t, "heads_shape"], p + t + "_r")], p + t + "_t",
                          perm=[1, 2, 0] if t == "k" else [1, 0, 2]) for t in ("q", "k", "v"))
        probs = node("Softmax", [node("Mul", [node("MatMul", [q, k], p + "scores"), "scale"], p + "scaled")],
                     p + "probs", axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, val], p + "ctx_h")], p + "ctx_t",
                                    perm=[1, 0, 2]), "hidden_shape"], p + "ctx")
        x = add_norm(dense(ctx, p + "attn", attn_out, v("attention.output.dense.bias")), x, p + "ln1",
                     v("attention.output.LayerNorm.weight"), v("attention.output.LayerNorm.bias"))
        # BERT's exact (erf) GELU.
        h = node("Gelu", [dense(x, p + "inter", inter, v("intermediate.dense.bias"))], p + "gelu")
        x = add_norm(dense(h, p + "out", out, v("output.dense.bias")), x, p + "ln2",
                     v("output.LayerNorm.weight"), v("output.LayerNorm.bias"))
    # No padding: every token counts in the model's mean pooling.
    node("ReduceMean", [x, const("tokens_axis", np.array([0], dtype=np.int64))], "pooled", keepdims=0)
    graph = helper.make_graph(nodes, "all-MiniLM-L6-v2 query", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["tokens", d])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [d])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    return model.SerializeToString()


def session(model: bytes):
    """An ONNX Runtime session on one thread (a query's matrices are tiny: threads only fight on a busy machine)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its notes on the graph are not the user's business
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
