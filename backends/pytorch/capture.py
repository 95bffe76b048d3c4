"""`cnndsl import`'s torch half: load a `module:callable`, trace it with torch.fx, and describe
every node as an `ImportOp` (the framework-independent rest lives in cnndsl/importer)."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import io
import operator
import os
import re
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's own name for it
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from cnndsl.errors import CnnError, CnnUsageError
from cnndsl.importer.graph import ImportGraph, ImportOp, unsupported

_ACTIVATIONS = {
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
    nn.Hardswish: "hardswish",
    nn.Hardsigmoid: "hardsigmoid",
    nn.SiLU: "silu",
    nn.Mish: "mish",
}
_FUNCTIONS = {
    F.relu: "relu",
    torch.relu: "relu",
    F.relu6: "relu6",
    torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid",
    torch.tanh: "tanh",
    F.tanh: "tanh",
    F.hardswish: "hardswish",
    F.hardsigmoid: "hardsigmoid",
    F.silu: "silu",
    F.mish: "mish",
}
_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
_ADDS = (operator.add, operator.iadd, torch.add)
_MULS = (operator.mul, operator.imul, torch.mul)


def _pair(value: Any) -> Any:
    """A square size as one number, as a person writes `stride=2`."""
    value = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    return value[0] if value[0] == value[1] else value


def _kernel(value: Any) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def load_callable(spec: str, arguments: dict[str, Any]) -> tuple[nn.Module, str]:
    """The module `spec` (`package.module:callable` or `file.py:callable`) returns, and a name."""
    source, sep, attribute = spec.rpartition(":")
    if not sep or not source or not attribute:
        raise CnnUsageError(f"expected MODULE:CALLABLE or FILE.py:CALLABLE, found '{spec}'")
    try:
        if source.endswith(".py"):
            path = Path(source)
            if not path.is_file():
                raise CnnUsageError(f"no such file: {source}")
            name = "cnndsl_import_" + re.sub(r"\W", "_", path.stem)
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(source)
    except CnnUsageError:
        raise
    except ModuleNotFoundError as error:
        raise CnnUsageError(f"cannot import {source}: {error}") from None
    except BaseException as error:  # noqa: BLE001 - the user's code may raise anything
        if isinstance(error, KeyboardInterrupt):
            raise
        raise CnnError(f"importing {source} failed: {type(error).__name__}: {error}") from None
    target = getattr(module, attribute, None)
    if target is None:
        raise CnnUsageError(f"{source} has no attribute '{attribute}'")
    try:
        model = target(**arguments)
    except Exception as error:  # noqa: BLE001
        raise CnnError(f"calling {spec} failed: {type(error).__name__}: {error}") from None
    if not isinstance(model, nn.Module):
        raise CnnError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model, re.sub(r"\W", "_", attribute).lower()


def parse_argument(pair: str) -> tuple[str, Any]:
    name, sep, text = pair.partition("=")
    if not sep or not name.isidentifier():
        raise CnnUsageError(f"--arg expects NAME=VALUE, found '{pair}'")
    try:
        return name, ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return name, text


def _where(node: fx.Node) -> str:
    """The last `file:line` of the user's code in the node's recorded stack."""
    torch_dir = os.path.dirname(torch.__file__)
    found = ""
    for match in re.finditer(r'File "([^"]+)", line (\d+)', node.meta.get("stack_trace") or ""):
        if not match.group(1).startswith(torch_dir):
            found = f"{match.group(1)}:{match.group(2)}"
    return found


def capture(model: nn.Module, input_shape: tuple[int, ...], name: str) -> ImportGraph:
    """The traced network as an import graph, in eval mode, shapes from one example."""
    model = model.eval()
    tracer = fx.Tracer()
    tracer.record_stack_traces = True
    try:
        graph = tracer.trace(model)
    except Exception as error:  # noqa: BLE001 - data-dependent control flow and friends
        raise CnnError(
            f"cannot trace {type(model).__name__} with torch.fx: {type(error).__name__}: {error}"
        ) from None
    traced = fx.GraphModule(tracer.root, graph)
    try:
        # ShapeProp prints the failing node's traceback before raising: the user gets our message.
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            ShapeProp(traced).propagate(torch.zeros(1, *input_shape))
    except Exception as error:  # noqa: BLE001
        cause = error.__cause__ or error  # ShapeProp wraps the error with the whole graph as text
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        raise CnnError(
            f"{type(model).__name__} fails on an input of {input_shape}: {type(cause).__name__}: {first}"
        ) from None
    modules = dict(model.named_modules())
    state = {key: value.detach().cpu().numpy() for key, value in model.state_dict().items()}
    out = ImportGraph(name, tuple(input_shape), tensors=state)
    alias: dict[str, str] = {}
    layouts: dict[str, tuple] = {}  # node -> how its values are laid out, where not CxHxW (_layout)
    for node in traced.graph.nodes:
        if node.op == "output":
            result = node.args[0]
            if not isinstance(result, fx.Node):
                raise unsupported("several outputs", "", _where(node))
            out.output = alias.get(result.name, result.name)
            continue
        meta = node.meta.get("tensor_meta")
        if node.op == "placeholder":
            out.add(ImportOp(node.name, "input", (), tuple(input_shape)))
            continue
        if node.op == "get_attr" or not hasattr(meta, "shape"):
            continue  # a constant or a size: its users say whether they can be expressed
        path = node.target if node.op == "call_module" else _stack_path(node)
        classes = (
            tuple(
                type(modules[".".join(path.split(".")[: i + 1])]).__name__
                for i in range(len(path.split(".")))
            )
            if path
            else ()
        )
        where = _where(node)
        layout = _layout(node, layouts, path, where)
        if layout is not None:  # a permute or a step of a channel shuffle: nothing computed yet
            layouts[node.name] = layout
            alias[node.name] = alias.get(node.args[0].name, node.args[0].name)
            continue
        if _channels_last(node, layouts):
            op = _describe_channels_last(node, modules, path, where)
            layouts[node.name] = ("last",)
        elif node.op == "call_function" and node.target is operator.getitem:
            op = _chunk(node, path, where)
        elif _shuffled(node, layouts):
            op = "channelshuffle", (layouts[node.args[0].name][1],), (), (), [node.args[0]]
        else:
            op = _describe(node, modules, path, where)
        if op is None:  # the identity
            alias[node.name] = alias.get(node.args[0].name, node.args[0].name)
            if node.args[0].name in layouts:
                layouts[node.name] = layouts[node.args[0].name]
            continue
        kind, positional, keywords, weights, tensor_inputs = op
        inputs = tuple(alias.get(arg.name, arg.name) for arg in tensor_inputs)
        shape = tuple(meta.shape[1:])
        if layouts.get(node.name) == ("last",):
            shape = (shape[-1], *shape[:-1])  # height, width, channels: the .cnn file's CxHxW
        named = []
        for suffix in weights:
            key = suffix[1] if isinstance(suffix, tuple) else f"{path}.{suffix}"
            suffix = suffix[0] if isinstance(suffix, tuple) else suffix
            if kind == "conv" and suffix == "weight" and state[key].ndim == 2:
                # A Linear on channels-last values is a 1x1 conv: the same weights, out x in x 1 x 1.
                state[f"{key}:1x1"] = state[key][:, :, None, None]
                key = f"{key}:1x1"
            named.append((suffix, key))
        if kind == "globalavgpool" and len(shape) == 1:  # a mean without keepdim: a pool, then flatten
            pooled = ImportOp(
                f"{node.name}_pool", kind, inputs, (*shape, 1, 1), (), (), path, classes, (), where
            )
            out.add(pooled)
            kind, inputs = "flatten", (pooled.id,)
        out.add(
            ImportOp(node.name, kind, inputs, shape, positional, keywords, path, classes, tuple(named), where)
        )
    return out


_TO_LAST, _TO_FIRST = (0, 2, 3, 1), (0, 3, 1, 2)


def _dims(node: fx.Node) -> tuple:
    """A permute's or transpose's dimensions, from `x.permute(0, 2, 3, 1)` or `torch.permute(x, [...])`."""
    rest = list(node.args[1:]) or list(node.kwargs.get("dims", ()))
    if len(rest) == 1 and isinstance(rest[0], (tuple, list)):
        rest = list(rest[0])
    return tuple(rest)


def _layout(node: fx.Node, layouts: dict, path: str, where: str) -> tuple | None:
    """The layout a node leaves its input's values in, where it only moves them.

    ("last",): channels last, after `permute(0, 2, 3, 1)` (ConvNeXt's LayerNorm and Linear
    layers run there); ("split", g) / ("transposed", g): the first two steps of ShuffleNet's
    channel shuffle, `view(n, g, c/g, h, w)` then `transpose(1, 2)`; the `view(n, c, h, w)`
    that ends it is the `channelshuffle g` op.
    """
    if node.op not in ("call_method", "call_function") or not node.args:
        return None
    source = node.args[0]
    if not isinstance(source, fx.Node):
        return None
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", "")
    before = layouts.get(source.name)
    before = None if before == ("first",) else before
    if name == "permute":
        dims = _dims(node)
        if before is None and dims == _TO_LAST:
            return ("last",)
        if before == ("last",) and dims == _TO_FIRST:
            return ("first",)
        raise unsupported(f"a permute of the dimensions to {dims}", path, where)
    if name in ("view", "reshape") and before is None and hasattr(source.meta.get("tensor_meta"), "shape"):
        shape_in = tuple(source.meta["tensor_meta"].shape)
        shape_out = tuple(node.meta["tensor_meta"].shape)
        if len(shape_in) == 4 and len(shape_out) == 5 and shape_out[1] * shape_out[2] == shape_in[1]:
            if shape_out[3:] == shape_in[2:]:
                return ("split", shape_out[1])
    if name == "transpose" and before is not None and before[0] == "split":
        if sorted(_dims(node)) == [1, 2]:
            return ("transposed", before[1])
    if name == "contiguous" and before is not None:
        return before
    return None


def _channels_last(node: fx.Node, layouts: dict) -> bool:
    return any(layouts.get(arg.name) == ("last",) for arg in node.args if isinstance(arg, fx.Node))


def _shuffled(node: fx.Node, layouts: dict) -> bool:
    if not node.args or not isinstance(node.args[0], fx.Node):
        return False
    before = layouts.get(node.args[0].name)
    if before is None or before[0] not in ("split", "transposed"):
        return False
    shape_out = tuple(node.meta["tensor_meta"].shape)
    if (
        before[0] == "split"
        or node.target not in ("view", "reshape", torch.flatten, "flatten")
        or len(shape_out) != 4
    ):
        label = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")
        raise unsupported(f"'{label}' of a 5-dimensional view (only a channel shuffle)", "", _where(node))
    return True


def _chunk(node: fx.Node, path: str, where: str):
    """`x.chunk(g, dim=1)[i]` (ShuffleNet's channel split) -> `chunk g index=i`."""
    source, index = node.args
    if not isinstance(source, fx.Node) or not isinstance(index, int):
        raise unsupported("indexing a value", path, where)
    target = source.target
    if source.op != "call_method" or target != "chunk":
        if target is not torch.chunk:
            raise unsupported(f"indexing the result of '{getattr(target, '__name__', target)}'", path, where)
    groups, dim = _bound(source, ("input", "chunks", "dim"), {"dim": 0})[1:]
    if dim not in (1, -3):
        raise unsupported(f"a chunk along dimension {dim}", path, where)
    return "chunk", (groups,), (("index", index),), (), [source.args[0]]


def _describe_channels_last(node: fx.Node, modules: dict, path: str, where: str):
    """What ConvNeXt computes between its permutes: LayerNorm, Linear (a 1x1 conv), activations."""
    inputs = _tensor_args(node)
    channels = node.meta["tensor_meta"].shape[-1]
    if node.op == "call_module":
        module = modules[node.target]
        if isinstance(module, nn.LayerNorm) and tuple(module.normalized_shape) == (channels,):
            affine = module.elementwise_affine and module.bias is not None
            weights = ("weight", "bias") if affine else ()
            return "layernorm", (), (("eps", float(module.eps)), ("affine", affine)), weights, inputs
        if isinstance(module, nn.Linear):
            return _linear_conv(module.out_features, module.bias is not None, inputs, ("weight", "bias"))
        if type(module) in _ACTIVATIONS or isinstance(module, (nn.GELU, nn.Dropout, nn.Identity)):
            return _describe_module(module, node, path, where)
    elif node.target is F.layer_norm:
        _, shape, weight, bias, eps = _bound(
            node, ("input", "normalized_shape", "weight", "bias", "eps"), {"eps": 1e-5}
        )
        if tuple(shape) == (channels,) and isinstance(weight, fx.Node) and isinstance(bias, fx.Node):
            weights = (("weight", weight.target), ("bias", bias.target))
            return "layernorm", (), (("eps", float(eps)), ("affine", True)), weights, inputs
    elif node.target is F.linear:
        _, weight, bias = _bound(node, ("input", "weight", "bias"), {"bias": None})
        if isinstance(weight, fx.Node) and weight.op == "get_attr":
            weights = (("weight", weight.target),) + ((("bias", bias.target),) if bias is not None else ())
            out = node.meta["tensor_meta"].shape[-1]
            return _linear_conv(out, bias is not None, inputs, weights)
    elif node.target in _FUNCTIONS or (node.op == "call_method" and node.target in _METHODS):
        return _describe(node, modules, path, where)
    label = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", node.target)
    raise unsupported(f"'{label}' on channels-last values (between permutes)", path, where)


def _linear_conv(out: int, bias: bool, inputs: list, weights: tuple):
    keywords = (("stride", 1), ("pad", 0), ("dilation", 1), ("groups", 1), ("bias", bias))
    return "conv", (out, (1, 1)), keywords, weights if bias else weights[:1], inputs


def _stack_path(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    return list(stack.values())[-1][0] if stack else ""


def _tensor_args(node: fx.Node) -> list[fx.Node]:
    return [
        arg
        for arg in node.args
        if isinstance(arg, fx.Node) and arg.op != "get_attr" and hasattr(arg.meta.get("tensor_meta"), "shape")
    ]


def _describe(node: fx.Node, modules: dict, path: str, where: str):
    """(kind, positional, keywords, weight names, tensor inputs), None for the identity."""
    if node.op == "call_module":
        return _describe_module(modules[node.target], node, path, where)
    target = node.target
    args = _tensor_args(node)
    label = getattr(target, "__name__", str(target))
    if target in _ADDS or target == "add" or target == "add_":
        if len(args) != 2:
            raise unsupported(f"'{label}' of a tensor and a number", path, where)
        return "add", (), (), (), args
    if target in _MULS or target == "mul":
        scale = [arg for arg in node.args if isinstance(arg, fx.Node) and arg.op == "get_attr"]
        channels = node.meta["tensor_meta"].shape[1]
        if (
            len(args) == 1
            and len(scale) == 1
            and tuple(scale[0].meta["tensor_meta"].shape) == (channels, 1, 1)
        ):
            return "layerscale", (1e-6,), (), (("weight", scale[0].target),), args  # ConvNeXt's
        if len(args) != 2:
            raise unsupported(f"'{label}' of a tensor and a number", path, where)
        return "mul", (), (), (), args
    if target is torch.cat:
        tensors = list(node.args[0])
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        if dim not in (1, -3):
            raise unsupported(f"torch.cat along dimension {dim}", path, where)
        return "concat", (), (), (), tensors
    if target in _FUNCTIONS or (node.op == "call_method" and target in _METHODS):
        kind = _FUNCTIONS.get(target) if node.op != "call_method" else _METHODS[target]
        return kind, (), (), (), args[:1]
    if target is F.dropout or target is F.dropout2d or (node.op == "call_method" and target == "contiguous"):
        return None
    if target in (torch.flatten,) or (node.op == "call_method" and target in ("flatten", "view", "reshape")):
        before = args[0].meta["tensor_meta"].shape
        after = node.meta["tensor_meta"].shape
        if len(before) == 4 and len(after) == 2:
            return "flatten", (), (), (), args[:1]
        raise unsupported(
            f"a reshape from {tuple(before[1:])} to {tuple(after[1:])} ('{label}')", path, where
        )
    if target == "mean" or target is torch.mean:  # ShuffleNet's head: x.mean([2, 3])
        dims, keep = _bound(node, ("input", "dim", "keepdim"), {"keepdim": False})[1:]
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if sorted(d % 4 for d in dims) != [2, 3]:
            raise unsupported(f"a mean over the dimensions {dims}", path, where)
        return "globalavgpool", (), (), (), args[:1]  # a flatten follows where keepdim is false
    if target is F.adaptive_avg_pool2d:
        size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
        if _kernel(size) == (1, 1):
            return "globalavgpool", (), (), (), args[:1]
        return "adaptiveavgpool", (_kernel(size),), (), (), args[:1]
    if target in (F.avg_pool2d, F.max_pool2d):
        return _functional_pool(node, target is F.max_pool2d, path, where, args)
    if label == "stochastic_depth":  # torchvision.ops.stochastic_depth(input, p, mode, training)
        p, mode = _bound(node, ("input", "p", "mode", "training"), {})[1:3]
        if mode != "row":
            raise unsupported(f"stochastic_depth with mode='{mode}'", path, where)
        return "droppath", (float(p),), (), (), args[:1]
    raise unsupported(f"the operation '{label}'", path, where)


def _bound(node: fx.Node, names: tuple[str, ...], defaults: dict) -> list:
    """A call's arguments by position, from its positional and keyword arguments."""
    values = dict(defaults)
    values.update(zip(names, node.args))
    values.update(node.kwargs)
    return [values.get(name) for name in names]


def _functional_pool(node: fx.Node, is_max: bool, path: str, where: str, args: list):
    """F.max_pool2d / F.avg_pool2d as Inception's forward calls them."""
    names = ("input", "kernel_size", "stride", "padding")
    names += ("dilation", "ceil_mode") if is_max else ("ceil_mode", "count_include_pad", "divisor_override")
    defaults = {"padding": 0, "dilation": 1, "ceil_mode": False, "count_include_pad": True}
    bound = dict(zip(names, _bound(node, names, defaults)))
    if bound.get("return_indices") or node.kwargs.get("return_indices"):
        raise unsupported("max_pool2d returning indices", path, where)
    if is_max and _pair(bound["dilation"]) != 1:
        raise unsupported("max_pool2d with dilation", path, where)
    if not is_max and bound["divisor_override"] is not None:
        raise unsupported("avg_pool2d with divisor_override", path, where)
    stride = bound["stride"] if bound["stride"] not in (None, [], ()) else bound["kernel_size"]
    keywords = [
        ("stride", _pair(stride)),
        ("pad", _pair(bound["padding"])),
        ("ceil", bool(bound["ceil_mode"])),
    ]
    if not is_max:
        keywords.append(("count_pad", bool(bound["count_include_pad"])))
    kind = "maxpool" if is_max else "avgpool"
    return kind, (_kernel(bound["kernel_size"]),), tuple(keywords), (), args[:1]


def _describe_module(module: nn.Module, node: fx.Node, path: str, where: str):
    inputs = _tensor_args(node)
    name = type(module).__name__
    if isinstance(module, nn.Conv2d):
        if module.padding_mode != "zeros":
            raise unsupported(f"Conv2d with padding_mode='{module.padding_mode}'", path, where)
        pad = module.padding if not isinstance(module.padding, str) else module.padding
        pad = {"valid": 0}.get(pad, pad) if isinstance(pad, str) else _pair(pad)
        keywords = (
            ("stride", _pair(module.stride)),
            ("pad", pad),
            ("dilation", _pair(module.dilation)),
            ("groups", module.groups),
            ("bias", module.bias is not None),
        )
        weights = ("weight", "bias") if module.bias is not None else ("weight",)
        return "conv", (module.out_channels, _kernel(module.kernel_size)), keywords, weights, inputs
    if isinstance(module, nn.ConvTranspose2d):
        keywords = (
            ("stride", _pair(module.stride)),
            ("pad", _pair(module.padding)),
            ("output_padding", _pair(module.output_padding)),
            ("dilation", _pair(module.dilation)),
            ("groups", module.groups),
            ("bias", module.bias is not None),
        )
        weights = ("weight", "bias") if module.bias is not None else ("weight",)
        return "convtranspose", (module.out_channels, _kernel(module.kernel_size)), keywords, weights, inputs
    if isinstance(module, nn.BatchNorm2d):
        if not module.affine or not module.track_running_stats or module.momentum is None:
            raise unsupported(
                "BatchNorm2d without affine weights, running statistics or a momentum", path, where
            )
        keywords = (("eps", float(module.eps)), ("momentum", float(module.momentum)))
        return (
            "batchnorm",
            (),
            keywords,
            ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
            inputs,
        )
    if isinstance(module, nn.Linear):
        weights = ("weight", "bias") if module.bias is not None else ("weight",)
        return "fc", (module.out_features,), (("bias", module.bias is not None),), weights, inputs
    if type(module) in _ACTIVATIONS:
        return _ACTIVATIONS[type(module)], (), (), (), inputs
    if isinstance(module, nn.GELU):
        return "gelu", (), (("approximate", module.approximate),), (), inputs
    if isinstance(module, nn.LeakyReLU):
        return "leakyrelu", (), (("slope", float(module.negative_slope)),), (), inputs
    if isinstance(module, nn.ELU):
        return "elu", (), (("alpha", float(module.alpha)),), (), inputs
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "maxpool" if isinstance(module, nn.MaxPool2d) else "avgpool"
        if kind == "maxpool" and _pair(module.dilation) != 1:
            raise unsupported("MaxPool2d with dilation", path, where)
        if kind == "avgpool" and module.divisor_override is not None:
            raise unsupported("AvgPool2d with divisor_override", path, where)
        stride = module.stride if module.stride is not None else module.kernel_size
        keywords = [
            ("stride", _pair(stride)),
            ("pad", _pair(module.padding)),
            ("ceil", bool(module.ceil_mode)),
        ]
        if kind == "avgpool":
            keywords.append(("count_pad", bool(module.count_include_pad)))
        return kind, (_kernel(module.kernel_size),), tuple(keywords), (), inputs
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        size = _kernel(module.output_size)
        if size == (1, 1):
            return (
                ("globalavgpool" if isinstance(module, nn.AdaptiveAvgPool2d) else "globalmaxpool"),
                (),
                (),
                (),
                inputs,
            )
        if isinstance(module, nn.AdaptiveMaxPool2d):
            raise unsupported("AdaptiveMaxPool2d to a size other than 1x1", path, where)
        return "adaptiveavgpool", (size,), (), (), inputs
    if isinstance(module, nn.Dropout):
        return "dropout", (float(module.p),), (), (), inputs
    if isinstance(module, (nn.Identity, nn.Dropout2d)):
        return None
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise unsupported(f"Flatten({module.start_dim}, {module.end_dim})", path, where)
        return "flatten", (), (), (), inputs
    raise unsupported(f"the module {name}", path, where)
