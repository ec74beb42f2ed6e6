"""TensorFlow.js graph-model export, written by tfstyle itself.

A graph model is a folder: ``model.json`` (the frozen GraphDef as JSON, a signature and a weights
manifest) and binary weight shards (``group1-shard1of1.bin`` ...). ``@tensorflow/tfjs`` 4.x loads it
with ``tf.loadGraphModel(url)``; the input takes any batch, height and width of float32 RGB in [0, 1]
and the output is the same, as for the TFLite export.

Why not the ``tensorflowjs`` pip package: its converter requires tensorflow-decision-forests (which
pins TensorFlow), jax, flax, tf-keras and tensorflow-hub, and its Keras paths need Keras 2. The
graph-model format is small and documented (``tfjs-core/src/io/types.ts``, the converter's
``write_weights.py``), so this module writes it from TensorFlow's own pieces:

1. trace the Keras model's call as a concrete function of a ``[None, None, None, 3]`` input and freeze
   it with ``convert_variables_to_constants_v2`` (variables become ``Const`` nodes);
2. drop what TF.js would only execute as copies: the ``Identity`` reads of the frozen variables and
   ``NoOp`` nodes, and every node the output does not depend on;
3. rewrite two patterns of instance normalisation into forms TF.js runs faster (see
   :func:`rewrite_for_tfjs`); TensorFlow computes the rewritten graph to the same values;
4. move every ``Const`` value out of the graph into the weights (TF.js looks constants up by node
   name), leaving dtype and shape in the node, as TF.js's converter does;
5. write the weights as 4 MiB shards with a manifest, optionally quantised with the manifest's own
   ``quantization`` fields: ``{"dtype": "float16"}`` or ``{"dtype": "uint8", "min": m, "scale": s}``
   (TF.js turns them back into float32 at load time: ``value = q * scale + min``).

Quantisation:

* ``none``: float32 weights.
* ``float16``: every float32 weight stored as float16 (half the size).
* ``uint8``: convolution kernels (and any other float32 weight of at least ``UINT8_MIN_SIZE``
  values) stored as uint8 with one affine range per tensor, the range nudged so that 0 is exact (as
  TF.js's converter and TFLite do). Small per-channel vectors (instance-norm scale and shift, the
  output bias) and scalars stay float32: they are a few hundred bytes, and an error there is
  multiplied into every pixel of a channel.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import EXPORT_FORMATS_REGISTRY
from .base import ExportError, input_spec

GRAPH_MODEL_FILE = "model.json"
# TF.js's converter writes 4 MiB shards: the largest file every major browser caches.
SHARD_BYTES = 4 * 1024 * 1024
# Float32 weights with fewer values than this stay float32 under uint8 (see the module docstring).
UINT8_MIN_SIZE = 256
QUANTIZATIONS = EXPORT_FORMATS_REGISTRY["tfjs"].quantizations
INPUT_KEY = "image"
OUTPUT_KEY = "stylized"
# TensorFlow's NodeDef tensor fields that hold values; cleared once a value moves to the weights.
_VALUE_FIELDS = ("tensor_content", "half_val", "float_val", "double_val", "int_val", "string_val",
                 "scomplex_val", "int64_val", "bool_val", "resource_handle_val", "variant_val",
                 "uint32_val", "uint64_val")
_MANIFEST_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32", np.dtype(np.bool_): "bool"}


def default_name(config) -> str:
    """``tfjs`` for float32 weights, ``tfjs_float16`` / ``tfjs_uint8`` for quantised ones."""
    return "tfjs" if config.quantize == "none" else f"tfjs_{config.quantize}"


def write(keras_model, out: Path, config, representative=None) -> Path:
    """Write the graph-model folder ``out`` (which must not exist)."""
    graph_def, input_name, output_name = frozen_graph_def(keras_model)
    write_graph_model(graph_def, input_name, output_name, out, config.quantize)
    return out


def frozen_graph_def(keras_model, optimize: bool = True, endpoint=None, input_signature=None):
    """The model's inference graph with its variables frozen into constants and pruned.

    Args:
        keras_model: the transform network.
        optimize: apply :func:`rewrite_for_tfjs` (False: TensorFlow's graph as frozen, for
            comparisons).
        endpoint, input_signature: a function of several inputs and their specs (the arbitrary-style
            transformer); default the model's call on one image.

    Returns:
        (graph_def, input_name, output_name): a ``tf.compat.v1.GraphDef`` and the input and output
        tensor names ("image:0", "Identity:0"); with ``input_signature``, input_name is the list of
        the inputs' tensor names in its order.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if input_signature is None:
        fn = tf.function(lambda x: keras_model(x, training=False)).get_concrete_function(input_spec())
    else:
        fn = tf.function(endpoint).get_concrete_function(*input_signature)
    frozen = convert_variables_to_constants_v2(fn)
    inputs, (out,) = frozen.inputs, frozen.outputs
    graph_def = frozen.graph.as_graph_def()
    _bypass_identities(graph_def, keep={out.op.name})
    _prune(graph_def, out.op.name)
    if optimize:
        rewrite_for_tfjs(graph_def)
        _bypass_identities(graph_def, keep={out.op.name})
        _prune(graph_def, out.op.name)
    return graph_def, (inputs[0].name if input_signature is None else [t.name for t in inputs]), out.name


def _node_of(ref: str) -> str:
    """The node name of an input reference: "x:1" -> "x", "^x" (control) -> "x"."""
    return ref.lstrip("^").split(":")[0]


def _bypass_identities(graph_def, keep: set[str]) -> None:
    """Consumers of a plain ``Identity`` (one input, no control inputs) read its input directly."""
    alias = {}
    for n in graph_def.node:
        if n.op == "Identity" and n.name not in keep and len(n.input) == 1 and not n.input[0].startswith("^"):
            alias[n.name] = n.input[0]

    def resolve(ref: str) -> str:
        seen = 0
        while _node_of(ref) in alias and seen < len(alias):
            # An Identity has one output: "id" and "id:0" both mean its input.
            target = alias[_node_of(ref)]
            ref = ("^" + _node_of(target)) if ref.startswith("^") else target
            seen += 1
        return ref

    for n in graph_def.node:
        if n.name in alias:
            continue
        new = [resolve(r) for r in n.input]
        del n.input[:]
        n.input.extend(new)


def _prune(graph_def, output_node: str) -> None:
    """Keep only the nodes ``output_node`` depends on (data or control); drop control edges to NoOps."""
    by_name = {n.name: n for n in graph_def.node}
    needed, stack = set(), [output_node]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        stack.extend(_node_of(r) for r in by_name[name].input
                     if not (r.startswith("^") and by_name[_node_of(r)].op == "NoOp"))
    kept = [n for n in graph_def.node if n.name in needed]
    for n in kept:
        refs = [r for r in n.input if _node_of(r) in needed]
        del n.input[:]
        n.input.extend(refs)
    del graph_def.node[:]
    graph_def.node.extend(kept)


class _NodeMaker:
    """Adds NodeDefs to a GraphDef under fresh names beside an existing node."""

    def __init__(self, graph_def):
        self.graph_def = graph_def
        self.names = {n.name for n in graph_def.node}

    def _name(self, base: str) -> str:
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def const(self, base: str, value, dtype) -> str:
        import tensorflow as tf

        n = self.graph_def.node.add(op="Const", name=self._name(base))
        n.attr["dtype"].type = dtype.as_datatype_enum
        n.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.asarray(value, dtype.as_numpy_dtype)))
        return n.name

    def op(self, op: str, base: str, inputs, name: str | None = None, **attrs) -> str:
        """A node ``op(*inputs)``; ``name`` replaces the existing node of that name in place (its
        consumers then read the new node). Attribute values: a tf.DType, bool, int or list of int."""
        import tensorflow as tf

        if name is None:
            n = self.graph_def.node.add(op=op, name=self._name(base))
        else:
            n = next(m for m in self.graph_def.node if m.name == name)
            n.Clear()
            n.op, n.name = op, name
        n.input.extend(inputs)
        for k, v in attrs.items():
            if isinstance(v, tf.DType):
                n.attr[k].type = v.as_datatype_enum
            elif isinstance(v, bool):
                n.attr[k].b = v
            elif isinstance(v, int):
                n.attr[k].i = v
            else:
                n.attr[k].list.i.extend(v)
        return n.name


def rewrite_for_tfjs(graph_def) -> dict[str, int]:
    """Rewrite, in place, the two slow parts of instance normalisation under TF.js.

    Measured in Node on the WASM backend (bench/results/decisions.md, "TF.js instance norm"):

    * ``Mean(x, axes=[1, 2], keep_dims=True)``: TF.js reduces only the innermost axis, so it first
      transposes the whole tensor. The same mean as a matrix product, ``reshape(x, (B, HW, C))^T @
      ones(1, HW, 1) / HW``, cost less than a ReLU of the same tensor. HW, B and C come from
      ``Shape(x)`` at run time, so any input size still works.
    * ``Sub(x, mean)`` with a per-channel mean: the broadcasting subtraction is slower than an
      addition of the negated mean.

    Reshapes that only restate a tensor's own shape become identities (dropped afterwards).

    Returns:
        ``{"Reshape": r, "Mean": n, "Sub": m}``: how many nodes were rewritten.
    """
    import tensorflow as tf

    by_name = {n.name: n for n in graph_def.node}
    make = _NodeMaker(graph_def)

    def const_value(ref: str):
        n = by_name.get(_node_of(ref))
        return None if n is None or n.op != "Const" else tf.make_ndarray(n.attr["value"].tensor)

    def dim_of(ref: str, i: int, tensor: str) -> bool:
        """Is ``ref`` ``Shape(tensor)[i]`` (a StridedSlice that shrinks to a scalar)?"""
        n = by_name.get(_node_of(ref))
        if n is None or n.op != "StridedSlice" or n.attr["shrink_axis_mask"].i != 1:
            return False
        shape = by_name.get(_node_of(n.input[0]))
        begin = const_value(n.input[1])
        return (shape is not None and shape.op == "Shape" and shape.input[0] == tensor and begin is not None
                and np.ravel(begin).tolist() == [i])

    # Reshape(t, [Shape(t)[0], Shape(t)[1], Shape(t)[2], C]) only tells TFLite's converter the
    # channel count (see ``_keep_channels`` in tfstyle.feedforward.networks); at run time it is t itself.
    # Each costs TF.js six small ops (Shape, 3 StridedSlice, Pack, Reshape).
    reshapes = 0
    for n in graph_def.node:
        pack = by_name.get(_node_of(n.input[1])) if n.op == "Reshape" and len(n.input) == 2 else None
        if pack is not None and pack.op == "Pack" and len(pack.input) == 4 and all(
                dim_of(pack.input[i], i, n.input[0]) for i in range(3)):
            t = n.input[0]
            n.ClearField("input")
            n.ClearField("attr")
            n.op = "Identity"
            n.input.append(t)
            n.attr["T"].type = tf.float32.as_datatype_enum
            reshapes += 1

    means = []
    for n in graph_def.node:
        axes = const_value(n.input[1]) if n.op == "Mean" and len(n.input) == 2 else None
        if (axes is not None and sorted(np.ravel(axes).tolist()) == [1, 2] and n.attr["keep_dims"].b
                and n.attr["T"].type == tf.float32.as_datatype_enum):
            means.append(n.name)
    i32, f32 = tf.int32, tf.float32
    mean_set = set(means)

    def shape_source(ref: str) -> str:
        """A tensor of the same shape whose Shape node may be shared: an instance norm's variance
        is the Mean of Square(x - Mean(x)), which has x's shape."""
        n = by_name.get(_node_of(ref))
        if n is not None and n.op == "Square":
            return shape_source(n.input[0])
        if n is not None and n.op == "Sub" and len(n.input) == 2 and _node_of(n.input[1]) in mean_set:
            return shape_source(n.input[0])
        return ref

    shared: dict[str, tuple[str, str, str, str]] = {}
    for name in means:
        x = by_name[name].input[0]
        src = shape_source(x)
        if src not in shared:
            base = _node_of(src) + "/tfjs_moments"
            shape = make.op("Shape", f"{base}/shape", [src], T=f32, out_type=i32)

            def part(lo: int, hi: int, tag: str, base=base, shape=shape) -> str:  # shape[lo:hi], 1-D int32
                return make.op("StridedSlice", f"{base}/{tag}",
                               [shape, make.const(f"{base}/{tag}_begin", [lo], i32),
                                make.const(f"{base}/{tag}_end", [hi], i32), make.const(f"{base}/{tag}_stride", [1], i32)],
                               T=i32, Index=i32, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                               shrink_axis_mask=0)

            b, c = part(0, 1, "batch"), part(3, 4, "channels")
            hw = make.op("Prod", f"{base}/pixels", [part(1, 3, "hw"), make.const(f"{base}/axis0", [0], i32)],
                         T=i32, Tidx=i32, keep_dims=True)  # (1,) = H*W
            axis = make.const(f"{base}/concat_axis", 0, i32)
            one = make.const(f"{base}/one_i", [1], i32)
            flat_shape = make.op("ConcatV2", f"{base}/flat_shape", [b, hw, c, axis], T=i32, Tidx=i32, N=3)
            ones_shape = make.op("ConcatV2", f"{base}/ones_shape", [one, hw, one, axis], T=i32, Tidx=i32, N=3)
            ones = make.op("Fill", f"{base}/ones", [ones_shape, make.const(f"{base}/one", 1.0, f32)], T=f32,
                           index_type=i32)  # (1, H*W, 1)
            pixels = make.op("Cast", f"{base}/pixels_f", [hw], SrcT=i32, DstT=f32, Truncate=False)
            out_shape = make.op("ConcatV2", f"{base}/out_shape",
                                [b, make.const(f"{base}/one_one", [1, 1], i32), c, axis], T=i32, Tidx=i32, N=3)
            shared[src] = (flat_shape, ones, pixels, out_shape)
        flat_shape, ones, pixels, out_shape = shared[src]
        base = name + "/tfjs"
        flat = make.op("Reshape", f"{base}/flat", [x, flat_shape], T=f32, Tshape=i32)  # (B, H*W, C)
        # flat^T @ ones, not ones^T @ flat: TF.js's WASM matmul packs its second operand, which is
        # then the small ones column instead of the whole feature map (faster, measured).
        total = make.op("BatchMatMulV2", f"{base}/sum", [flat, ones], T=f32, adj_x=True, adj_y=False)  # (B, C, 1)
        mean = make.op("RealDiv", f"{base}/mean", [total, pixels], T=f32)
        # (B, C, 1) and (B, 1, 1, C) have the same memory order.
        make.op("Reshape", "", [mean, out_shape], name=name, T=f32, Tshape=i32)  # (B, 1, 1, C), in place
    subs = 0
    for n in list(graph_def.node):
        if n.op == "Sub" and len(n.input) == 2 and _node_of(n.input[1]) in mean_set and ":" not in n.input[1]:
            a, m = n.input
            neg = make.op("Neg", f"{n.name}/tfjs/neg", [m], T=f32)
            make.op("AddV2", "", [a, neg], name=n.name, T=f32)
            subs += 1
    return {"Reshape": reshapes, "Mean": len(means), "Sub": subs}


def extract_weights(graph_def) -> list[tuple[str, np.ndarray]]:
    """Move every ``Const`` value out of ``graph_def`` (in place); returns ``(node name, value)``.

    The node keeps its ``dtype`` and the tensor's dtype and shape: TF.js reads the value from the
    weights by the node's name.
    """
    import tensorflow as tf

    weights = []
    for n in graph_def.node:
        if n.op != "Const":
            continue
        value = np.asarray(tf.make_ndarray(n.attr["value"].tensor))
        if value.dtype not in _MANIFEST_DTYPES:
            raise ExportError(f"constant {n.name} has dtype {value.dtype}, which the TF.js export does not "
                              f"write")
        weights.append((n.name, value))
        for f in _VALUE_FIELDS:
            n.attr["value"].tensor.ClearField(f)
    return weights


def quantize_uint8(data: np.ndarray) -> tuple[np.ndarray, dict]:
    """Affine uint8 of one float32 tensor: ``data ~= q * scale + min`` with 0 exactly representable.

    Returns:
        (q, {"min": min, "scale": scale}) with q uint8 of ``data``'s shape.
    """
    lo, hi = float(data.min()), float(data.max())
    if lo == hi:  # one value: q = 0 and min carries it exactly
        return np.zeros(data.shape, np.uint8), {"min": lo, "scale": 1.0}
    scale = (hi - lo) / 255.0
    if lo <= 0.0 <= hi:
        # Nudge the range so that 0 falls on an integer (zero padding, ReLU zeros stay exact).
        lo = -round(-lo / scale) * scale
        hi = lo + 255.0 * scale
    q = np.round((np.clip(data, lo, hi) - lo) / scale).astype(np.uint8)
    return q, {"min": lo, "scale": scale}


def encode_weight(name: str, value: np.ndarray, quantize: str) -> tuple[bytes, dict]:
    """The bytes and the manifest entry of one weight under ``quantize``."""
    entry = {"name": name, "shape": [int(d) for d in value.shape], "dtype": _MANIFEST_DTYPES[value.dtype]}
    if value.dtype == np.float32 and quantize == "float16":
        if np.any(np.abs(value[np.isfinite(value)]) > np.finfo(np.float16).max):
            raise ExportError(f"weight {name} exceeds the float16 range; export with --quantize none")
        entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
        return value.astype("<f2").tobytes(), entry
    if value.dtype == np.float32 and quantize == "uint8" and value.size >= UINT8_MIN_SIZE:
        q, params = quantize_uint8(value)
        entry["quantization"] = {"dtype": "uint8", **params, "original_dtype": "float32"}
        return q.tobytes(), entry
    if value.dtype == np.bool_:
        return value.astype(np.uint8).tobytes(), entry
    return value.astype(value.dtype.newbyteorder("<")).tobytes(), entry


def _tensor_info(name: str, shape=(-1, -1, -1, 3)) -> dict:
    dims = [{"size": str(d)} for d in shape]
    return {"name": name, "dtype": "DT_FLOAT", "tensorShape": {"dim": dims}}


def write_graph_model(graph_def, input_name: str, output_name: str, out: Path, quantize: str = "none",
                      shard_bytes: int = SHARD_BYTES, inputs: dict | None = None, output: tuple | None = None,
                      about: dict | None = None) -> Path:
    """Write ``graph_def`` (frozen) as a TF.js graph model into the new folder ``out``.

    Args:
        graph_def: the frozen graph (its constants are moved into the weights in place).
        input_name, output_name: tensor names of the model's input and output ("image:0").
        quantize: one of ``QUANTIZATIONS``.
        shard_bytes: the largest weight file.
        inputs: ``{key: (tensor name, shape)}`` of a model with several inputs (replaces ``input_name``).
        output: ``(key, shape)`` of the output (default ``("stylized", image shape)``).
        about: replaces the description of input and output in the metadata.

    Returns:
        ``out``.
    """
    from google.protobuf.json_format import MessageToDict

    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ExportError(f"--format tfjs takes --quantize {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    weights = extract_weights(graph_def)
    blobs, entries = zip(*(encode_weight(name, value, quantize) for name, value in weights))
    data = b"".join(blobs)
    # TF.js reads the shards of a group as one buffer: a weight may span two shards.
    n_shards = max(1, math.ceil(len(data) / shard_bytes))
    paths = [f"group1-shard{i + 1}of{n_shards}.bin" for i in range(n_shards)]
    out.mkdir()
    for i, p in enumerate(paths):
        (out / p).write_bytes(data[i * shard_bytes:(i + 1) * shard_bytes])
    doc = {
        "format": "graph-model",
        "generatedBy": tf.__version__,
        "convertedBy": f"tfstyle {__version__}",
        "signature": {"inputs": ({k: _tensor_info(n, shape) for k, (n, shape) in inputs.items()} if inputs
                                 else {INPUT_KEY: _tensor_info(input_name)}),
                      "outputs": ({output[0]: _tensor_info(output_name, output[1])} if output
                                  else {OUTPUT_KEY: _tensor_info(output_name)})},
        "modelTopology": MessageToDict(graph_def),
        "weightsManifest": [{"paths": paths, "weights": list(entries)}],
        "userDefinedMetadata": {"tfstyle": {**(about or {
            "input": "float32 RGB [0, 1], shape [batch, height, width, 3]",
            "output": "float32 RGB [0, 1], the input's shape"}), "quantize": quantize}},
    }
    (out / GRAPH_MODEL_FILE).write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    return out


__all__ = ["default_name", "write", "frozen_graph_def", "rewrite_for_tfjs", "write_graph_model", "extract_weights",
           "quantize_uint8", "encode_weight", "GRAPH_MODEL_FILE"]
