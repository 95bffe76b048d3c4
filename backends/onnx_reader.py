"""`cnndsl import`'s ONNX half: read a .onnx file with the `onnx` package into an `ImportGraph`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from cnndsl.errors import CnnError
from cnndsl.importer.graph import ImportGraph, ImportOp, unsupported

_SIMPLE = {
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "HardSwish": "hardswish",
    "GlobalAveragePool": "globalavgpool",
    "GlobalMaxPool": "globalmaxpool",
}
_IDENTITIES = ("Identity", "Dropout")


def _pair(values: list[int]) -> Any:
    return values[0] if values[0] == values[1] else tuple(values)


def _pads(pads: list[int]) -> Any:
    """ONNX's (top, left, bottom, right) as cnndsl's N, (h, w) or (top, bottom, left, right)."""
    top, left, bottom, right = pads
    if (top, left) == (bottom, right):
        return _pair([top, left])
    return (top, bottom, left, right)


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {attribute.name: onnx.helper.get_attribute_value(attribute) for attribute in node.attribute}


def _load(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise CnnError(f"no such file: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as error:  # noqa: BLE001 - protobuf's decode errors have no common base
        raise CnnError(f"cannot read {path} as an ONNX model: {type(error).__name__}: {error}") from None
    if not model.graph.node:
        raise CnnError(f"{path} is not an ONNX model (it has no graph nodes; truncated?)")
    try:
        return shape_inference.infer_shapes(model)
    except Exception as error:  # noqa: BLE001
        raise CnnError(f"ONNX shape inference failed on {path}: {type(error).__name__}: {error}") from None


def _dims(value: onnx.ValueInfoProto) -> tuple[Any, ...] | None:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)


class _Reader:
    def __init__(self, model: onnx.ModelProto, name: str, fallback: tuple[int, ...]):
        graph = model.graph
        self.constants: dict[str, np.ndarray] = {
            init.name: numpy_helper.to_array(init) for init in graph.initializer
        }
        self.shapes: dict[str, tuple] = {}
        for value in [*graph.input, *graph.value_info, *graph.output]:
            dims = _dims(value)
            if dims is not None:
                self.shapes[value.name] = dims
        inputs = [value for value in graph.input if value.name not in self.constants]
        if len(inputs) != 1:
            raise unsupported(f"a model with {len(inputs)} inputs", hint="one image input only")
        if len(graph.output) != 1:
            raise unsupported(f"a model with {len(graph.output)} outputs", hint="one output only")
        dims = self.shapes.get(inputs[0].name, ())
        if len(dims) != 4:
            raise unsupported(f"an input of rank {len(dims)}", hint="an NCHW image input only")
        shape = tuple(dims[1:]) if all(dims[1:]) else tuple(fallback)
        self.shapes[inputs[0].name] = (1, *shape)
        self.out = ImportGraph(name, shape)
        self.out.add(ImportOp(inputs[0].name, "input", (), shape))
        self.alias: dict[str, str] = {}
        self.users: dict[str, int] = {}
        for node in graph.node:
            for value in node.input:
                self.users[value] = self.users.get(value, 0) + 1
        self.graph = graph

    def name(self, value: str) -> str:
        return self.alias.get(value, value)

    def shape(self, value: str, node: onnx.NodeProto) -> tuple[int, ...]:
        dims = self.shapes.get(value)
        if dims is None or not all(isinstance(d, int) and d > 0 for d in dims[1:]):
            raise unsupported(
                self.what(node), hint=f"ONNX shape inference gives no static shape for '{value}'"
            )
        return tuple(dims[1:])

    @staticmethod
    def what(node: onnx.NodeProto) -> str:
        return f"the ONNX node '{node.name or node.output[0]}' ({node.op_type})"

    def constant(self, value: str) -> np.ndarray | None:
        return self.constants.get(self.name(value))

    def read(self) -> ImportGraph:
        for node in self.graph.node:
            self.node(node)
        self.out.output = self.name(self.graph.output[0].name)
        if self.out.output not in self.out.ops:
            raise unsupported("an output that is not computed from the input")
        return self.out

    def emit(self, node, kind, inputs, positional=(), keywords=(), weights=()) -> None:
        out = node.output[0]
        for value in inputs:
            if self.name(value) not in self.out.ops:
                raise unsupported(self.what(node), hint=f"its input '{value}' is not computed from the image")
        self.out.add(
            ImportOp(
                out,
                kind,
                tuple(self.name(value) for value in inputs),
                self.shape(out, node),
                tuple(positional),
                tuple(keywords),
                weights=tuple(weights),
                where=node.name or out,
            )
        )

    def node(self, node: onnx.NodeProto) -> None:
        op, attrs, what = node.op_type, _attributes(node), self.what(node)
        inputs = [value for value in node.input if value]
        if node.domain not in ("", "ai.onnx"):
            raise unsupported(what, hint=f"operators of domain '{node.domain}'")
        if op == "Constant":
            value = attrs.get("value")
            if value is None:
                raise unsupported(what, hint="only tensor constants")
            self.constants[node.output[0]] = numpy_helper.to_array(value)
            return
        computed = [value for value in inputs if self.constant(value) is None]
        if op in _IDENTITIES or (op == "Flatten" and len(self.shapes.get(inputs[0], ())) == 2):
            self.alias[node.output[0]] = self.name(inputs[0])
            if self.constant(inputs[0]) is not None:
                self.constants[node.output[0]] = self.constant(inputs[0])
            return
        if not computed:  # folding constants is the exporter's job
            raise unsupported(what, hint="it computes a constant")
        if op in _SIMPLE:
            return self.emit(node, _SIMPLE[op], computed[:1])
        if op == "Conv":
            return self.conv(node, attrs, inputs)
        if op == "BatchNormalization":
            return self.batchnorm(node, attrs, inputs)
        if op in ("MaxPool", "AveragePool"):
            return self.pool(node, attrs, inputs)
        if op == "Clip":
            low = attrs.get("min", self._scalar(inputs, 1))
            high = attrs.get("max", self._scalar(inputs, 2))
            if (low, high) == (0.0, 6.0):
                return self.emit(node, "relu6", inputs[:1])
            if (low, high) == (0.0, None):
                return self.emit(node, "relu", inputs[:1])
            raise unsupported(what, hint=f"Clip({low}, {high}): only Clip(0, 6), relu6")
        if op == "HardSigmoid":
            if abs(attrs.get("alpha", 0.2) - 1 / 6) < 1e-6 and abs(attrs.get("beta", 0.5) - 0.5) < 1e-6:
                return self.emit(node, "hardsigmoid", inputs)
            raise unsupported(what, hint="only HardSigmoid with alpha=1/6, beta=0.5 (PyTorch's)")
        if op == "LeakyRelu":
            return self.emit(
                node, "leakyrelu", inputs, keywords=(("slope", float(attrs.get("alpha", 0.01))),)
            )
        if op == "Add":
            return self.add(node, inputs, computed)
        if op == "Mul":
            return self.mul(node, inputs, computed)
        if op == "Concat":
            rank = len(self.shapes.get(node.output[0], ()))
            if attrs.get("axis") not in (1, 1 - rank) or len(computed) != len(inputs):
                raise unsupported(what, hint="only a concat of computed values along the channels")
            return self.emit(node, "concat", inputs)
        if op in ("Flatten", "Reshape"):
            return self.flatten(node, attrs, inputs)
        if op == "ReduceMean":
            return self.reduce_mean(node, attrs, inputs)
        if op == "Gemm":
            return self.gemm(node, attrs, inputs)
        if op == "MatMul":
            weight = self.constant(inputs[1])
            if weight is None or weight.ndim != 2 or len(self.shapes.get(inputs[0], ())) != 2:
                raise unsupported(what, hint="only a matrix product with a constant weight (a linear layer)")
            return self.linear(node, inputs[0], weight.T, None)
        raise unsupported(what)

    def _scalar(self, inputs: list[str], index: int) -> float | None:
        if len(inputs) <= index:
            return None
        value = self.constant(inputs[index])
        return None if value is None else float(value)

    def _tensor(self, key: str, value: np.ndarray) -> str:
        self.out.tensors[key] = value
        return key

    def conv(self, node, attrs, inputs) -> None:
        weight = self.constant(inputs[1])
        if weight is None or weight.ndim != 4:
            raise unsupported(self.what(node), hint="only a 2-d convolution with constant weights")
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
            raise unsupported(self.what(node), hint="auto_pad SAME_*: export with explicit pads")
        bias = len(inputs) > 2
        keywords = (
            ("stride", _pair(attrs.get("strides", [1, 1]))),
            ("pad", _pads(attrs.get("pads", [0, 0, 0, 0]))),
            ("dilation", _pair(attrs.get("dilations", [1, 1]))),
            ("groups", int(attrs.get("group", 1))),
            ("bias", bias),
        )
        weights = [("weight", self._tensor(f"{node.output[0]}.weight", weight))]
        if bias:
            weights.append(("bias", self._tensor(f"{node.output[0]}.bias", self.constant(inputs[2]))))
        kernel = tuple(attrs.get("kernel_shape", weight.shape[2:]))
        self.emit(node, "conv", inputs[:1], (int(weight.shape[0]), kernel), keywords, weights)

    def batchnorm(self, node, attrs, inputs) -> None:
        if attrs.get("training_mode", 0) or len(node.output) > 1:
            raise unsupported(self.what(node), hint="a batchnorm in training mode: export in eval mode")
        values = [self.constant(value) for value in inputs[1:5]]
        if any(value is None for value in values):
            raise unsupported(self.what(node), hint="only constant batchnorm weights")
        key = node.output[0]
        names = ("weight", "bias", "running_mean", "running_var")
        weights = [(name, self._tensor(f"{key}.{name}", value)) for name, value in zip(names, values)]
        weights.append(("num_batches_tracked", self._tensor(f"{key}.num_batches_tracked", np.array(0))))
        momentum = round(1.0 - float(attrs.get("momentum", 0.9)), 6)  # ONNX keeps the old value's share
        keywords = (("eps", round(float(attrs.get("epsilon", 1e-5)), 9)), ("momentum", momentum))
        self.emit(node, "batchnorm", inputs[:1], (), keywords, weights)

    def pool(self, node, attrs, inputs) -> None:
        kind = "maxpool" if node.op_type == "MaxPool" else "avgpool"
        if len(node.output) > 1 and node.output[1]:
            raise unsupported(self.what(node), hint="pooling indices")
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
            raise unsupported(self.what(node), hint="auto_pad SAME_*: export with explicit pads")
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise unsupported(self.what(node), hint="pooling with dilation")
        kernel = tuple(attrs["kernel_shape"])
        keywords = [
            ("stride", _pair(attrs.get("strides", [1, 1]))),
            ("pad", _pads(attrs.get("pads", [0, 0, 0, 0]))),
            ("ceil", bool(attrs.get("ceil_mode", 0))),
        ]
        if kind == "avgpool":
            keywords.append(("count_pad", bool(attrs.get("count_include_pad", 0))))
        self.emit(node, kind, inputs[:1], (kernel,), keywords)

    def add(self, node, inputs, computed) -> None:
        if len(computed) == 2:
            return self.emit(node, "add", inputs)
        source = self.out.ops.get(self.name(computed[0]))
        bias = self.constant(next(value for value in inputs if value not in computed))
        if (
            source is not None
            and source.kind == "fc"
            and not dict(source.keywords)["bias"]
            and bias is not None
            and bias.size == source.positional[0]
            and self.users.get(computed[0]) == 1
        ):  # MatMul + Add: one linear layer with a bias
            key = self._tensor(f"{source.id}.bias", bias.reshape(-1))
            self.out.ops.pop(source.id)
            self.out.add(
                ImportOp(
                    node.output[0],
                    "fc",
                    source.inputs,
                    self.shape(node.output[0], node),
                    source.positional,
                    (("bias", True),),
                    weights=(*source.weights, ("bias", key)),
                    where=source.where,
                )
            )
            return None
        raise unsupported(self.what(node), hint="adding a constant (other than a linear layer's bias)")

    def mul(self, node, inputs, computed) -> None:
        if len(computed) != 2:
            raise unsupported(self.what(node), hint="multiplying by a constant")
        ops = [self.out.ops.get(self.name(value)) for value in inputs]
        for index, op in enumerate(ops):  # x * sigmoid(x) is silu, x * hardsigmoid(x) hardswish
            other = self.name(inputs[1 - index])
            fused = {"sigmoid": "silu", "hardsigmoid": "hardswish"}.get(op.kind if op else "")
            if fused and op.inputs == (other,) and self.users.get(inputs[index]) == 1:
                self.out.ops.pop(op.id)
                return self.emit(node, fused, [inputs[1 - index]])
        return self.emit(node, "mul", inputs)

    def flatten(self, node, attrs, inputs) -> None:
        before = self.shapes.get(inputs[0], ())
        after = self.shapes.get(node.output[0], ())
        batch_kept = node.op_type == "Reshape" or attrs.get("axis", 1) == 1
        if len(before) == 4 and len(after) == 2 and batch_kept and after[0] == before[0]:
            return self.emit(node, "flatten", inputs[:1])
        raise unsupported(
            self.what(node),
            hint=f"a reshape from {before[1:]} to {after[1:]}: only a flatten before the classifier",
        )

    def reduce_mean(self, node, attrs, inputs) -> None:
        axes = attrs.get("axes")
        if axes is None and len(inputs) > 1:
            axes = [int(a) for a in self.constant(inputs[1]).reshape(-1)]
        if sorted(a % 4 for a in axes or []) != [2, 3]:
            raise unsupported(self.what(node), hint="only a mean over height and width")
        if attrs.get("keepdims", 1):
            return self.emit(node, "globalavgpool", inputs[:1])
        raise unsupported(self.what(node), hint="ReduceMean with keepdims=0")

    def gemm(self, node, attrs, inputs) -> None:
        weight, bias = self.constant(inputs[1]), self.constant(inputs[2]) if len(inputs) > 2 else None
        if (
            weight is None
            or attrs.get("transA", 0)
            or attrs.get("alpha", 1.0) != 1.0
            or (len(inputs) > 2 and (bias is None or attrs.get("beta", 1.0) != 1.0))
        ):
            raise unsupported(self.what(node), hint="only x @ W^T + b with constant W and b (a linear layer)")
        self.linear(node, inputs[0], weight if attrs.get("transB", 0) else weight.T, bias)

    def linear(self, node, source: str, weight: np.ndarray, bias: np.ndarray | None) -> None:
        key = node.output[0]
        weights = [("weight", self._tensor(f"{key}.weight", np.ascontiguousarray(weight)))]
        if bias is not None:
            weights.append(("bias", self._tensor(f"{key}.bias", bias.reshape(-1))))
        keywords = (("bias", bias is not None),)
        self.emit(node, "fc", [source], (int(weight.shape[0]),), keywords, weights)


def read(path: str | Path, name: str, fallback_shape: tuple[int, ...]) -> ImportGraph:
    """The ONNX file at `path` as an import graph (no module hierarchy: structure alone names blocks)."""
    return _Reader(_load(Path(path)), name, fallback_shape).read()
