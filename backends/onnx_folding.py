"""Static shapes for an ONNX model: its input fixed to one image, its shape arithmetic folded away."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

# The arithmetic that PyTorch's exporter writes to compute a view's or a slice's sizes from
# `x.size()` (ShuffleNet's channel shuffle and split); folded only where every input is known.
_FOLDABLE = {
    "Shape",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Slice",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Cast",
    "Reshape",
    "Transpose",
    "Identity",
}


# Shape arithmetic works on a handful of numbers; a node whose output would be larger than this
# (a broadcast of two large constants could ask for gigabytes) is left to the reader, which
# names it if it cannot read it.
MAX_FOLDED_ELEMENTS = 1 << 22


def _output_size(node: onnx.NodeProto, values: list) -> int:
    """An upper bound of the number of elements `evaluate` would produce."""
    if node.op_type in ("Add", "Sub", "Mul", "Div"):
        try:
            return math.prod(np.broadcast_shapes(*(value.shape for value in values)))
        except ValueError:
            return 0  # not broadcastable: numpy refuses it without allocating
    if node.op_type == "Gather" and len(values) == 2:
        return values[0].size * values[1].size
    return sum(value.size for value in values)


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}


def _axes(node: onnx.NodeProto, values: list, attrs: dict) -> list[int]:
    """Unsqueeze's and Squeeze's axes: an input from opset 13, an attribute before."""
    if len(values) > 1:
        return [int(a) for a in values[1].reshape(-1)]
    return list(attrs.get("axes", []))


def _slice(values: list) -> np.ndarray:
    data, starts, ends = values[0], values[1], values[2]
    axes = values[3] if len(values) > 3 else np.arange(len(starts))
    steps = values[4] if len(values) > 4 else np.ones(len(starts), dtype=np.int64)
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return data[tuple(index)]


def _reshape(data: np.ndarray, shape: np.ndarray, allowzero: int) -> np.ndarray:
    sizes = [int(s) for s in shape]
    if not allowzero:  # a 0 keeps the input's size there
        sizes = [data.shape[i] if s == 0 else s for i, s in enumerate(sizes)]
    return data.reshape(sizes)


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        return np.trunc(a / b).astype(np.result_type(a, b))  # ONNX divides integers toward zero
    return (a / b).astype(np.result_type(a, b))


def evaluate(node: onnx.NodeProto, values: list) -> np.ndarray | None:
    """The node's output from its inputs' values, or None where it is not simple arithmetic."""
    op, attrs = node.op_type, _attributes(node)
    if op == "Gather":
        return np.take(values[0], values[1], axis=attrs.get("axis", 0))
    if op == "Unsqueeze":
        out, axes = values[0], _axes(node, values, attrs)
        for axis in sorted(a % (out.ndim + len(axes)) for a in axes):
            out = np.expand_dims(out, axis)
        return out
    if op == "Squeeze":
        axes = _axes(node, values, attrs)
        return np.squeeze(values[0], axis=tuple(axes) if axes else None)
    if op == "Concat":
        return np.concatenate(values, axis=attrs["axis"])
    if op == "Slice" and len(values) >= 3:
        return _slice(values)
    if op in ("Add", "Sub", "Mul"):
        function = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}[op]
        return function(values[0], values[1]).astype(np.result_type(values[0], values[1]))
    if op == "Div":
        return _divide(values[0], values[1])
    if op == "Cast":
        return values[0].astype(helper.tensor_dtype_to_np_dtype(attrs["to"]))
    if op == "Reshape":
        return _reshape(values[0], values[1], attrs.get("allowzero", 0))
    if op == "Transpose":
        return np.transpose(values[0], attrs.get("perm"))
    if op == "Identity":
        return values[0]
    return None


def _static(value: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in tensor.shape.dim]
    return tuple(dims) if all(d > 0 for d in dims) else None


def _fold_once(model: onnx.ModelProto) -> bool:
    """Replace every foldable node whose inputs are known by an initializer; whether any was."""
    graph = model.graph
    # Read only where used: most initializers are weights that no shape arithmetic touches.
    initializers = {init.name: init for init in graph.initializer}
    known: dict[str, np.ndarray] = {}
    shapes = {value.name: _static(value) for value in [*graph.input, *graph.value_info]}
    kept, folded = [], []
    for node in graph.node:
        value = None
        if node.op_type == "Constant" and "value" in _attributes(node):
            known[node.output[0]] = numpy_helper.to_array(_attributes(node)["value"])
        elif node.op_type == "Shape" and shapes.get(node.input[0]) is not None:
            attrs = _attributes(node)
            dims = np.array(shapes[node.input[0]], dtype=np.int64)
            value = dims[attrs.get("start", 0) : attrs.get("end", len(dims))]
        elif node.op_type in _FOLDABLE and len(node.output) == 1:
            inputs = [name for name in node.input if name]
            if inputs and all(name in known or name in initializers for name in inputs):
                for name in inputs:
                    if name not in known:
                        known[name] = numpy_helper.to_array(initializers[name])
                values = [known[name] for name in inputs]
                try:
                    if _output_size(node, values) <= MAX_FOLDED_ELEMENTS:
                        value = evaluate(node, values)
                except (ValueError, IndexError, TypeError, KeyError, MemoryError):
                    value = None  # left to the reader, which names the node
        if value is None:
            kept.append(node)
            continue
        value = np.asarray(value)
        known[node.output[0]] = value
        folded.append(numpy_helper.from_array(value, node.output[0]))
    if not folded:
        return False
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(folded)
    return True


def fix_input(image: onnx.ValueInfoProto, shape: tuple[int, ...]) -> None:
    """Give the image input one example and the image size `shape` where the file leaves them open."""
    for dim, size in zip(image.type.tensor_type.shape.dim, (1, *shape)):
        if not dim.HasField("dim_value") or dim.dim_value <= 0:
            dim.Clear()
            dim.dim_value = size


def static_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with shape inference run to a fixed point of folding (each round can reveal more)."""
    for _ in range(len(model.graph.node) + 1):
        model = shape_inference.infer_shapes(model, data_prop=True)
        if not _fold_once(model):
            break
    return model
