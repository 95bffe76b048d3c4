"""`cnndsl compile --backend numpy`: a standalone module that needs only NumPy.

The module holds the very kernel functions the engine runs (their source copied, with only
what this network uses), the same step plan (fusion, folded batchnorm, algorithm per conv)
written out as straight-line code, and a `Network` class with state_dict/load_state_dict in
the torch backend's layout. Its outputs therefore equal `build("numpy")`'s exactly.
"""

from __future__ import annotations

import inspect
import math
import re
import types

import networkx as nx

from cnndsl import __version__, number_arrays
from cnndsl.model import Model

from ..python_text import checked_source, comment_text, docstring_text
from . import conv_kernels, layers, modern_ops, resample_ops, tensor_ops, winograd
from .plan import Step, plan_steps
from .weights import learned_tensors, parameter_shapes

LINE_LENGTH = 88  # where rows of literal weights wrap: ruff's default, as in the torch backend's files

_SOURCE_MODULES = (conv_kernels, winograd, tensor_ops, modern_ops, resample_ops)

# Thin wrappers between the generated forward() and the kernels: they allocate what the engine
# would take from its arena. Each is emitted only when the network uses it.
_WRAPPERS = {
    "_conv_im2col": """
def _conv_im2col(x, packed, kernel, stride, dilation, pads, out_shape, activation=None, residual=None):
    if any(pads):
        shape = (x.shape[0], x.shape[1] + pads[0] + pads[1], x.shape[2] + pads[2] + pads[3], x.shape[3])
        x = pad_nhwc(x, pads, np.empty(shape, np.float32))
    weight, bias = packed
    out = np.empty(out_shape, np.float32)
    workspace = np.empty(im2col_workspace_size(weight.shape, out_shape), np.float32)
    return conv_im2col(x, weight, bias, kernel, stride, dilation, out, workspace, activation, residual)
""",
    "_conv_pointwise": """
def _conv_pointwise(x, packed, out_shape, activation=None, residual=None):
    return conv_pointwise(x, packed[0], packed[1], np.empty(out_shape, np.float32), activation, residual)
""",
    "_conv_depthwise": """
def _conv_depthwise(x, packed, stride, dilation, pads, out_shape, activation=None, residual=None):
    if any(pads):
        shape = (x.shape[0], x.shape[1] + pads[0] + pads[1], x.shape[2] + pads[2] + pads[3], x.shape[3])
        x = pad_nhwc(x, pads, np.empty(shape, np.float32))
    out = np.empty(out_shape, np.float32)
    return conv_depthwise(x, packed[0], packed[1], stride, dilation, out, activation, residual)
""",
    "_conv_winograd": """
def _conv_winograd(x, packed, pads, out_shape, activation=None, residual=None):
    shape = winograd_padded_shape(out_shape[0], out_shape[1], out_shape[2], x.shape[3])
    if shape != x.shape or any(pads):
        x = pad_nhwc(x, pads, np.empty(shape, np.float32))
    out = np.empty(out_shape, np.float32)
    workspace = np.empty(winograd_workspace_size(out_shape, x.shape[3]), np.float32)
    return conv_winograd(x, packed[0], packed[1], out, workspace, activation, residual)
""",
    "_pool": """
def _pool(x, op, kernel, stride, pads, padded_size, out_shape, reciprocals=None):
    if padded_size != x.shape[1:3]:
        fill = -np.inf if op == "max" else 0.0
        x = pad_nhwc(x, pads, np.empty((x.shape[0], *padded_size, x.shape[3]), np.float32), fill)
    out = np.empty(out_shape, np.float32)
    if op == "max":
        return max_pool(x, kernel, stride, out)
    return avg_pool(x, kernel, stride, reciprocals, out)
""",
}


def _definitions() -> dict[str, object]:
    """Every top-level function, class and constant of the kernel modules, by name."""
    found: dict[str, object] = {}
    for module in _SOURCE_MODULES:
        for name, value in vars(module).items():
            if getattr(value, "__module__", None) == module.__name__ or (
                name.isupper() and isinstance(value, int)
            ):
                found[name] = value
    return found


def _names_used(value: object) -> set[str]:
    """Global names a function or class refers to, constants used as default values included."""
    if not isinstance(value, (type, types.FunctionType)):
        return set()
    if isinstance(value, type):
        codes = [member.__code__ for member in vars(value).values() if isinstance(member, types.FunctionType)]
    else:
        codes = [value.__code__]
    # Defaults such as budget=CHUNK_BYTES appear in no code object: find those in the text.
    names = set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", inspect.getsource(value)))
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    return names


def _wrapper_names(text: str) -> set[str]:
    """Global names a wrapper's source refers to (the kernels it calls)."""
    code = compile(text, "<wrapper>", "exec")
    names, codes = set(), [code]
    while codes:
        current = codes.pop()
        names.update(current.co_names)
        codes.extend(const for const in current.co_consts if isinstance(const, types.CodeType))
    return names


def _kernel_source(roots: set[str]) -> str:
    """The source of `roots` and everything they call, constants first, in definition order."""
    definitions = _definitions()
    needed, pending = set(), [name for name in roots if name in definitions]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        pending.extend(n for n in _names_used(definitions[name]) if n in definitions and n not in needed)
    ordered = [name for name in definitions if name in needed]
    constants = [f"{name} = {definitions[name]!r}" for name in ordered if isinstance(definitions[name], int)]
    functions = [definitions[name] for name in ordered if not isinstance(definitions[name], int)]
    blocks = ["\n".join(constants)] if constants else []
    blocks.extend(inspect.getsource(function).rstrip() for function in functions)  # type: ignore[arg-type]
    return "\n\n\n".join(blocks)


class _Writer:
    """Turns plan steps into forward() lines and _pack() lines, noting the functions they call."""

    def __init__(self, graph: nx.DiGraph, conv_algorithm: str):
        self.graph = graph
        self.conv_algorithm = conv_algorithm
        self.calls: set[str] = set()
        self.forward: list[str] = []
        self.pack: list[str] = []
        self.names: dict[str, str] = {}

    def variable(self, value: str) -> str:
        if value not in self.names:
            self.names[value] = f"v{len(self.names)}"
        return self.names[value]

    def out(self, value: str) -> str:
        shape = layers.nhwc(self.graph.nodes[value]["shape"])
        return "(n, " + ", ".join(str(d) for d in shape) + ")"

    def step(self, step: Step) -> None:
        attrs = self.graph.nodes[step.head]["attrs"]
        args = [self.variable(value) for value in step.inputs]
        target = self.variable(step.output)
        self.forward.append(f"# {comment_text(', '.join(step.members))}")
        if step.op in ("conv", "fc"):
            call = self._weighted(step, attrs, args)
        elif step.op in ("maxpool", "avgpool"):
            call = self._pool(step, attrs, args[0])
        elif step.op == "batchnorm":
            self.calls.update(("batchnorm_factors", "scale_shift"))
            factors = f"batchnorm_factors(state, {step.head!r}, {attrs['eps']!r})"
            self.pack.append(f"packed[{step.head!r}] = [f.astype(np.float32) for f in {factors}]")
            call = f"scale_shift({args[0]}, *packed[{step.head!r}], np.empty_like({args[0]}))"
        elif step.op in layers.MODERN_OPS:
            call = self._modern(step, attrs, args[0])
        elif step.op in ("convtranspose", *layers.RESAMPLING_OPS):
            call = self._resampling(step, attrs, args[0])
        else:
            call = self._simple(step, attrs, args)
        self.forward.append(f"{target} = {call}")
        if step.activation and step.op not in ("conv", "fc"):  # conv and fc kernels apply their own
            function = self.activation(step)
            self.forward.append(f"{function}({target}, {target})")

    def activation(self, step: Step) -> str:
        """The name of the step's fused activation kernel (copied into the module), or 'None'."""
        function = layers.fused_activation(step)
        if function is None:
            return "None"
        self.calls.add(function.__name__)
        return function.__name__

    def _weighted(self, step: Step, attrs: dict, args: list[str]) -> str:
        key = repr(step.head)
        self.pack.append(
            f"weight, bias = state[{step.head + '.weight'!r}], state.get({step.head + '.bias'!r})"
        )
        if step.batchnorm:
            eps = self.graph.nodes[step.batchnorm]["attrs"]["eps"]
            self.calls.add("fold_batchnorm")
            self.pack.append(
                f"weight, bias = fold_batchnorm(weight, bias, state, {step.batchnorm!r}, {eps!r})"
            )
        activation = self.activation(step)
        fused = (f", activation={activation}" if step.activation else "") + (
            f", residual={args[1]}" if step.shortcut else ""
        )
        if step.op == "fc":
            self.calls.add("fully_connected")
            self.pack.append(f"packed[{key}] = (weight, bias)")
            out = f"np.empty({self.out(step.output)}, np.float32)"
            return f"fully_connected({args[0]}, *packed[{key}], {activation}, {out})"
        in_channels = self.graph.nodes[step.inputs[0]]["shape"][0]
        out_size = self.graph.nodes[step.head]["shape"][1:]
        algorithm = layers.choose_conv_algorithm(attrs, in_channels, out_size, self.conv_algorithm)
        packing = {
            "winograd": "(pack_winograd_weight(weight), bias)",
            "depthwise": f"pack_depthwise(weight, bias, {out_size[1]})",
        }.get(algorithm, f"(pack_gemm_weight(weight, {attrs['groups']}), bias)")
        self.calls.update((packing.strip("(").split("(")[0], f"_conv_{algorithm}"))
        self.pack.append(f"packed[{key}] = {packing}")
        geometry = {
            "im2col": f"{attrs['kernel']}, {attrs['stride']}, {attrs['dilation']}, {attrs['pads']}, ",
            "depthwise": f"{attrs['stride']}, {attrs['dilation']}, {attrs['pads']}, ",
            "winograd": f"{attrs['pads']}, ",
            "pointwise": "",
        }[algorithm]
        return f"_conv_{algorithm}({args[0]}, packed[{key}], {geometry}{self.out(step.output)}{fused})"

    def _pool(self, step: Step, attrs: dict, source: str) -> str:
        channels, rows, columns = self.graph.nodes[step.inputs[0]]["shape"]
        kernel, stride, pads = attrs["kernel"], attrs["stride"], attrs["pads"]
        out_rows, out_columns = self.graph.nodes[step.output]["shape"][1:]
        padded = (
            tensor_ops.pool_padded_size(rows, kernel[0], stride[0], pads[0], pads[1], out_rows),
            tensor_ops.pool_padded_size(columns, kernel[1], stride[1], pads[2], pads[3], out_columns),
        )
        kind = "max" if step.op == "maxpool" else "avg"
        self.calls.update(("_pool", f"{kind}_pool"))
        reciprocals = ""
        if kind == "avg":
            self.calls.add("avg_pool_reciprocals")
            size = ((rows, columns), kernel, stride, pads, (out_rows, out_columns), attrs["count_pad"])
            self.pack.append(f"packed[{step.head!r}] = avg_pool_reciprocals{size!r}")
            reciprocals = f", packed[{step.head!r}]"
        geometry = f"{kernel}, {stride}, {pads}, {padded}"
        return f'_pool({source}, "{kind}", {geometry}, {self.out(step.output)}{reciprocals})'

    def _modern(self, step: Step, attrs: dict, source: str) -> str:
        function, names, constants = layers.modern_kernel(step.op, attrs)
        self.calls.add(function.__name__)
        arguments = [source]
        if names:
            tensors = ", ".join(f"state.get({f'{step.head}.{name}'!r})" for name in names)
            self.pack.append(f"packed[{step.head!r}] = ({tensors},)")
            arguments.append(f"*packed[{step.head!r}]")
        arguments += [repr(value) for value in constants]
        return f"{function.__name__}({', '.join(arguments)}, np.empty({self.out(step.output)}, np.float32))"
    def _resampling(self, step: Step, attrs: dict, source: str) -> str:
        """convtranspose, upsample, pixelshuffle, channelshuffle: the engine's own kernel calls."""
        out = f"np.empty({self.out(step.output)}, np.float32)"
        if step.op == "convtranspose":
            key = repr(step.head)
            weight = f"state[{step.head + '.weight'!r}]"
            self.calls.add("pack_transposed_weight")
            self.pack.append(
                f"packed[{key}] = (pack_transposed_weight({weight}, {attrs['groups']}), "
                f"state.get({step.head + '.bias'!r}))"
            )
            self.calls.add("conv_transpose")
            geometry = ", ".join(repr(attrs[name]) for name in ("kernel", "stride", "dilation", "pad"))
            return f"conv_transpose({source}, *packed[{key}], {geometry}, {out})"
        if step.op == "upsample":
            self.calls.add("upsample")
            factors = layers.upsample_factors(attrs)
            return f"upsample({source}, {attrs['mode']!r}, {factors!r}, {attrs['align_corners']!r}, {out})"
        if step.op == "pixelshuffle":
            self.calls.add("pixel_shuffle")
            return f"pixel_shuffle({source}, {attrs['factor']!r}, {out})"
        self.calls.add("channel_shuffle")
        return f"channel_shuffle({source}, {attrs['groups']!r}, {out})"

    def _simple(self, step: Step, attrs: dict, args: list[str]) -> str:
        out = f"np.empty({self.out(step.output)}, np.float32)"
        function = layers.SimpleLayer.UNARY.get(step.op)
        if function is not None:
            self.calls.add(function.__name__)
            return f"{function.__name__}({args[0]}, {out})"
        if step.op == "leakyrelu":
            self.calls.add("leaky_relu")
            return f"leaky_relu({args[0]}, {attrs['slope']!r}, {out})"
        if step.op == "lrn":
            self.calls.add("local_response_norm")
            values = ", ".join(repr(attrs[name]) for name in ("size", "alpha", "beta", "k"))
            return f"local_response_norm({args[0]}, {values}, {out})"
        if step.op == "chunk":
            self.calls.add("chunk")
            return f"chunk({args[0]}, {attrs['groups']}, {attrs['index']}, {out})"
        if step.op == "crop":
            self.calls.add("centre_crop")
            return f"centre_crop({args[0]}, {attrs['offset']!r}, {attrs['size']!r}, {out})"
        self.calls.add(step.op)  # add, concat, mul
        return f"{step.op}([{', '.join(args)}], {out})"


def _initial_values(graph: nx.DiGraph) -> str:
    """INIT: how each parameter starts, mirroring weights.initial_state draw for draw."""
    shapes = parameter_shapes(graph)
    lines = []
    for key in shapes:
        node, _, name = key.rpartition(".")
        data = graph.nodes[node]
        if data["op"] == "batchnorm":
            start = {"weight": 1, "running_var": 1}.get(name, 0)
            lines.append(f"    {key!r}: ('fill', {start}),")
            continue
        learned = learned_tensors(data["op"], data["attrs"], data["shape"])
        if name in learned:
            lines.append(f"    {key!r}: ('fill', {learned[name][1]!r}),")
            continue
        literal = data["attrs"].get("weights") if name == "weight" else data["attrs"]["bias"]
        if literal is not None and not isinstance(literal, bool):
            values = literal if isinstance(literal, tuple) else literal.values
            head = f"    {key!r}: ('literal', "
            # One row of the innermost size per line, as the .cnn source and the torch file have them.
            nested = number_arrays.nest([repr(float(value)) for value in values], shapes[key])
            rows = number_arrays.layout(nested, len(head), LINE_LENGTH)
            rows[-1] += "),"
            lines.extend([head + rows[0], *rows[1:]])
        else:
            bound = 1.0 / math.sqrt(math.prod(shapes[f"{node}.weight"][1:]))
            lines.append(f"    {key!r}: ('uniform', {bound!r}),")
    return "INIT = {\n" + "\n".join(lines) + "\n}" if lines else "INIT = {}"


_NETWORK_CLASS = '''
class Network:
    """{name} in NumPy: call it on a float32 (N, {dims}) array."""

    input_shape = INPUT_SHAPE

    def __init__(self, seed=None):
        """PyTorch's default initialisation: uniform in +-1/sqrt(fan_in); batchnorm as identity."""
        rng = np.random.default_rng(seed)
        state = {{}}
        for key, shape in PARAMETER_SHAPES.items():
            kind, value = INIT[key]
            if kind == "uniform":
                values = rng.random(shape, dtype=np.float32)
                values *= np.float32(2 * value)
                values -= np.float32(value)
            elif kind == "literal":
                values = np.array(value, dtype=np.float32).reshape(shape)
            elif key.endswith(".num_batches_tracked"):
                values = np.zeros(shape, dtype=np.int64)
            else:
                values = np.full(shape, value, dtype=np.float32)
            state[key] = values
        self.load_state_dict(state)

    def state_dict(self):
        return dict(self._state)

    def load_state_dict(self, state):
        """Every key of PARAMETER_SHAPES with exactly its shape; weights are packed once here."""
        for key, shape in PARAMETER_SHAPES.items():
            if key not in state:
                raise KeyError(f"missing {{key!r}} (expected shape {{shape}})")
            if tuple(np.shape(state[key])) != shape:
                raise ValueError(f"{{key!r}} has shape {{tuple(np.shape(state[key]))}}, expected {{shape}}")
        extra = sorted(set(state) - set(PARAMETER_SHAPES))
        if extra:
            raise KeyError(f"unexpected key {{extra[0]!r}}")
        counters = [key for key in PARAMETER_SHAPES if key.endswith(".num_batches_tracked")]
        self._state = {{
            key: np.asarray(state[key], dtype=np.int64 if key in counters else np.float32, order="C")
            for key in PARAMETER_SHAPES
        }}
        self._packed = self._pack(self._state)

    @staticmethod
    def _pack(state):
        packed = {{}}
{pack}
        return packed

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.shape[1:] != INPUT_SHAPE:
            found = f"{{x.dtype}} {{x.shape}}" if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"expected a float32 array of shape (N, {dims}), found {{found}}")
        n, packed = x.shape[0], self._packed
        {first} = {to_internal}
{forward}
        return {to_output}
'''


def generate_source(model: Model, conv_algorithm: str = "auto", logits: bool = False) -> str:
    """The standalone module's text for `model` (see the module docstring)."""
    if conv_algorithm not in layers.CONV_ALGORITHMS:
        from cnndsl.errors import CnnUsageError

        raise CnnUsageError(f"conv_algorithm must be one of {', '.join(layers.CONV_ALGORITHMS)}")
    graph = model.graph
    steps, values = plan_steps(graph, logits=logits)
    writer = _Writer(graph, conv_algorithm)
    first = writer.variable(values[graph.graph["inputs"][0]])
    for step in steps:
        writer.step(step)
    if logits and len(graph.graph["outputs"]) > 1:
        from cnndsl.errors import CnnUsageError

        raise CnnUsageError(f"logits=True needs a network with one output; {model.name} has several")
    image_in = len(model.input_shape) == 3
    returned = []  # several outputs are returned as a tuple, in the declared order
    for node in graph.graph["outputs"]:
        output = writer.variable(values[node])
        image_out = len(graph.nodes[values[node]]["shape"]) == 3
        returned.append(
            f"np.ascontiguousarray({output}.transpose(0, 3, 1, 2))" if image_out else f"{output}.copy()"
        )
    wrappers = [_WRAPPERS[name].strip() for name in _WRAPPERS if name in writer.calls]
    kernels = _kernel_source(writer.calls.union(*(_wrapper_names(text) for text in wrappers)))
    dims = ", ".join(str(d) for d in model.input_shape)
    indent = " " * 8
    body = _NETWORK_CLASS.format(
        name=docstring_text(model.name),
        dims=dims,
        ndim=len(model.input_shape) + 1,
        pack="\n".join(indent + line for line in writer.pack) or indent + "pass",
        first=first,
        to_internal="np.ascontiguousarray(x.transpose(0, 2, 3, 1))" if image_in else "x.copy()",
        forward="\n".join(indent + line for line in writer.forward),
        to_output=", ".join(returned),
    )
    shapes = "\n".join(f"    {key!r}: {shape!r}," for key, shape in parameter_shapes(graph).items())
    source = graph.graph.get("source", model.name)
    header = (
        f'"""{docstring_text(model.name)}: standalone NumPy inference, generated by cnndsl '
        f"{__version__} from {docstring_text(source)}.\n\n"
        "Needs only NumPy. Inputs and outputs are float32 NCHW arrays, as for the torch module:\n\n"
        f"    net = Network()  # PyTorch's default initialisation; Network(seed=0) to repeat it\n"
        "    net.load_state_dict(dict(np.load('weights.npz')))  # the torch backend's state_dict keys\n"
        f"    y = net(x)  # x: float32 of shape (N, {dims})\n\n"
        "Inside, images are channels-last (NHWC). The kernels are cnndsl's NumPy engine's own.\n"
        + ("Compiled with logits=True: the trailing softmax/sigmoid is left out.\n" if logits else "")
        + '"""\n\n'
    )
    sections = [
        header + "from __future__ import annotations\n\nimport numpy as np",
        f"INPUT_SHAPE = {tuple(model.input_shape)!r}",
        "PARAMETER_SHAPES = {\n" + shapes + "\n}" if shapes else "PARAMETER_SHAPES = {}",
        _initial_values(graph),
        kernels,
        "\n\n\n".join(wrappers),
        body.strip(),
    ]
    text = "\n\n\n".join(section for section in sections if section.strip()) + "\n"
    return checked_source(text, f"NumPy module for network {model.name}")
