"""`cnndsl import`'s ONNX half: read a .onnx file with the `onnx` package into an `ImportGraph`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from cnndsl.errors import CnnError
from cnndsl.importer.graph import ImportGraph, ImportOp, unsupported

from .onnx_concats import nest_concats
from .onnx_folding import fix_input, static_shapes
from .onnx_patterns import LAST, Patterns

_SIMPLE = {
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "HardSwish": "hardswish",
    "GlobalAveragePool": "globalavgpool",
    "GlobalMaxPool": "globalmaxpool",
}
_IDENTITIES = ("Identity", "Dropout")
# What may compute on channels-last values: per-position ops and the channels' own layers.
_ON_LAST = {"Transpose", "LayerNormalization", "MatMul", "Add", "Mul", "Gelu", "Relu", "Sigmoid", "Tanh"}
_ON_LAST |= {"HardSwish", "HardSigmoid", "Clip", "LeakyRelu"}


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


def _load(path: Path, fallback: tuple[int, ...]) -> onnx.ModelProto:
    if not path.is_file():
        raise CnnError(f"no such file: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as error:  # noqa: BLE001 - protobuf's decode errors have no common base
        raise CnnError(f"cannot read {path} as an ONNX model: {type(error).__name__}: {error}") from None
    if not model.graph.node:
        raise CnnError(f"{path} is not an ONNX model (it has no graph nodes; truncated?)")
    initializers = {init.name for init in model.graph.initializer}
    images = [value for value in model.graph.input if value.name not in initializers]
    if len(images) == 1 and len(images[0].type.tensor_type.shape.dim) == 1 + len(fallback):
        fix_input(images[0], tuple(fallback))
    try:
        return static_shapes(model)
    except Exception as error:  # noqa: BLE001
        raise CnnError(f"ONNX shape inference failed on {path}: {type(error).__name__}: {error}") from None


def _dims(value: onnx.ValueInfoProto) -> tuple[Any, ...] | None:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)


class _Reader(Patterns):
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
        self.layouts: dict[str, tuple] = {}
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
        if self.layouts.get(value) == LAST:
            return (dims[-1], *dims[1:-1])  # the .cnn file's values are C x H x W
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
        if self.graph.output[0].name in self.layouts:
            raise unsupported("an output whose dimensions are not N, C, H, W (a Transpose or a 5-d view)")
        return nest_concats(self.out)

    def emit(self, node, kind, inputs, positional=(), keywords=(), weights=(), out=None, shape=None) -> None:
        out = out or node.output[0]
        for value in inputs:
            if self.name(value) not in self.out.ops:
                raise unsupported(self.what(node), hint=f"its input '{value}' is not computed from the image")
        self.out.add(
            ImportOp(
                out,
                kind,
                tuple(self.name(value) for value in inputs),
                shape or self.shape(out, node),
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
            if inputs[0] in self.layouts:
                self.layouts[node.output[0]] = self.layouts[inputs[0]]
            return
        if not computed:  # the reader folded the shape arithmetic; the rest is the exporter's job
            raise unsupported(what, hint="it computes a constant")
        layout = next((self.layouts[value] for value in computed if value in self.layouts), None)
        if op == "Transpose":
            return self.transpose(node, attrs, inputs, layout)
        if layout is not None and layout != LAST:
            return self.shuffle(node, inputs, layout)
        if layout == LAST:
            if op not in _ON_LAST or any(self.layouts.get(value) != LAST for value in computed):
                raise unsupported(
                    what,
                    hint="on channels-last values (after a Transpose to NHWC) only LayerNormalization, "
                    "MatMul with a constant weight, its bias, activations and a per-channel scale",
                )
            for value in node.output:
                self.layouts[value] = LAST
        if op == "Reshape" and self.split(node, inputs):
            return None
        if op in _SIMPLE:
            return self.emit(node, _SIMPLE[op], computed[:1])
        if op == "Gelu":
            approximate = attrs.get("approximate", "none")
            approximate = approximate.decode() if isinstance(approximate, bytes) else approximate
            return self.emit(node, "gelu", computed[:1], keywords=(("approximate", approximate),))
        if op == "LayerNormalization":
            return self.layernorm(node, attrs, inputs, layout)
        if op == "Slice":
            return self.slice(node, inputs)
        if op == "Split":
            return self.chunks(node, attrs, inputs)
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
            rank = len(self.shapes.get(inputs[0], ()))
            if weight is None or weight.ndim != 2 or rank != (4 if layout == LAST else 2):
                raise unsupported(what, hint="only a matrix product with a constant weight (a linear layer)")
            if layout == LAST:  # a Linear on channels-last values is a 1x1 conv, weights out x in x 1 x 1
                return self.conv1x1(node, inputs[0], weight)
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
        channels = source.shape[0] if source is not None else 0
        rank = len(self.shapes.get(computed[0], ()))
        # A (C,) bias broadcasts along the last dimension: the channels of flat or channels-last values.
        last = rank == 2 or self.layouts.get(computed[0]) == LAST
        first = rank == 4 and computed[0] not in self.layouts
        along_channels = bias is not None and (
            (last and bias.shape in ((channels,), (1, channels)))
            or (first and bias.shape in ((channels, 1, 1), (1, channels, 1, 1)))
        )
        if (
            source is not None
            and source.kind in ("fc", "conv")
            and not dict(source.keywords)["bias"]
            and along_channels
            and self.users.get(computed[0]) == 1
        ):  # MatMul (or a conv without bias) + Add: one layer with a bias
            key = self._tensor(f"{source.id}.bias", bias.reshape(-1))
            self.out.ops.pop(source.id)
            keywords = tuple((name, True if name == "bias" else value) for name, value in source.keywords)
            self.out.add(
                ImportOp(
                    node.output[0],
                    source.kind,
                    source.inputs,
                    self.shape(node.output[0], node),
                    source.positional,
                    keywords,
                    weights=(*source.weights, ("bias", key)),
                    where=source.where,
                )
            )
            return None
        raise unsupported(self.what(node), hint="adding a constant (other than a layer's bias)")

    def mul(self, node, inputs, computed) -> None:
        if len(computed) != 2:
            return self.layerscale(node, inputs, computed[0])
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
        if sorted(a % 4 for a in axes or []) != [2, 3] or len(self.shapes.get(inputs[0], ())) != 4:
            raise unsupported(self.what(node), hint="only a mean over height and width")
        if attrs.get("keepdims", 1):
            return self.emit(node, "globalavgpool", inputs[:1])
        # ShuffleNet's x.mean([2, 3]): a pool, then a flatten (as the torch capture writes it).
        pooled = f"{node.output[0]}#pool"
        channels = self.shapes[inputs[0]][1]
        self.emit(node, "globalavgpool", inputs[:1], out=pooled, shape=(channels, 1, 1))
        return self.emit(node, "flatten", [pooled])

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
    return _Reader(_load(Path(path), tuple(fallback_shape)), name, fallback_shape).read()
