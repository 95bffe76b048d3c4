"""Parameters in PyTorch's state_dict layout: names and shapes from the IR, default init, files.

Keys are `{node_id}.weight`, `{node_id}.bias` and batchnorm's running statistics, exactly as the
torch backend's module names them, so weights move between the two backends (and files) as is.
Files are .safetensors or .npz (read with allow_pickle=False): nothing is ever unpickled.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import networkx as nx
import numpy as np

from cnndsl.errors import CnnUsageError

BATCHNORM_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def learned_tensors(op: str, attrs: dict, shape: tuple[int, ...]) -> dict[str, tuple[tuple[int, ...], float]]:
    """The tensors of prelu, the norms and layerscale: name -> (shape, PyTorch's initial value)."""
    channels = shape[0]
    if op == "prelu":
        return {"weight": ((1,) if attrs["shared"] else (channels,), attrs["init"])}
    if op == "layerscale":
        return {"weight": ((channels, 1, 1), attrs["init"])}
    if op in ("layernorm", "groupnorm", "instancenorm") and attrs["affine"]:
        return {"weight": ((channels,), 1.0), "bias": ((channels,), 0.0)}
    return {}


def parameter_shapes(graph: nx.DiGraph) -> dict[str, tuple[int, ...]]:
    """Every state_dict key and its shape, in the order PyTorch's state_dict lists them."""
    shapes: dict[str, tuple[int, ...]] = {}
    for node, data in graph.nodes(data=True):
        attrs = data["attrs"]
        if data["op"] == "conv":
            in_channels = graph.nodes[data["inputs"][0]]["shape"][0]
            out_channels = attrs["out_channels"]
            shapes[f"{node}.weight"] = (out_channels, in_channels // attrs["groups"], *attrs["kernel"])
            if attrs["bias"] is not False:
                shapes[f"{node}.bias"] = (out_channels,)
        elif data["op"] == "convtranspose":  # PyTorch's layout: (in, out/groups, kh, kw)
            in_channels = graph.nodes[data["inputs"][0]]["shape"][0]
            per_group = attrs["out_channels"] // attrs["groups"]
            shapes[f"{node}.weight"] = (in_channels, per_group, *attrs["kernel"])
            if attrs["bias"]:
                shapes[f"{node}.bias"] = (attrs["out_channels"],)
        elif data["op"] == "fc":
            in_features = graph.nodes[data["inputs"][0]]["shape"][0]
            shapes[f"{node}.weight"] = (attrs["out_features"], in_features)
            if attrs["bias"]:
                shapes[f"{node}.bias"] = (attrs["out_features"],)
        elif data["op"] == "batchnorm":
            channels = data["shape"][0]
            for name in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{node}.{name}"] = (channels,)
            shapes[f"{node}.num_batches_tracked"] = ()
        for name, (shape, _) in learned_tensors(data["op"], attrs, data["shape"]).items():
            shapes[f"{node}.{name}"] = shape
    return shapes


def initial_state(graph: nx.DiGraph, seed: int | None = None) -> dict[str, np.ndarray]:
    """PyTorch's default initialisation (same distributions, not the same random numbers).

    Conv and fc weights and biases are uniform in +-1/sqrt(fan_in) (kaiming_uniform with a=sqrt(5)
    works out to that bound; a transposed conv's fan_in is out/groups*kh*kw, as PyTorch reads
    its weight's second axis); batchnorm starts as the identity. Literal weights and biases
    written in the source are used as given.
    """
    rng = np.random.default_rng(seed)
    shapes = parameter_shapes(graph)
    state: dict[str, np.ndarray] = {}
    for node, data in graph.nodes(data=True):
        attrs = data["attrs"]
        if data["op"] in ("conv", "fc", "convtranspose"):
            weight_shape = shapes[f"{node}.weight"]
            bound = 1.0 / math.sqrt(math.prod(weight_shape[1:]))
            literal = attrs.get("weights")
            if literal is not None:
                weight = np.array(literal.values, dtype=np.float32).reshape(weight_shape)
            else:
                weight = _uniform(rng, bound, weight_shape)
            state[f"{node}.weight"] = weight
            bias = attrs["bias"]
            if isinstance(bias, tuple):
                state[f"{node}.bias"] = np.array(bias, dtype=np.float32)
            elif bias:
                state[f"{node}.bias"] = _uniform(rng, bound, shapes[f"{node}.bias"])
        elif data["op"] == "batchnorm":
            channels = data["shape"][0]
            state[f"{node}.weight"] = np.ones(channels, np.float32)
            state[f"{node}.bias"] = np.zeros(channels, np.float32)
            state[f"{node}.running_mean"] = np.zeros(channels, np.float32)
            state[f"{node}.running_var"] = np.ones(channels, np.float32)
            state[f"{node}.num_batches_tracked"] = np.zeros((), np.int64)
        for name, (shape, value) in learned_tensors(data["op"], attrs, data["shape"]).items():
            state[f"{node}.{name}"] = np.full(shape, value, np.float32)
    return state


def _uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform in [-bound, bound), drawn directly in float32 (VGG-16's 138M weights: 0.5 s, not 3)."""
    values = rng.random(shape, dtype=np.float32)
    values *= np.float32(2 * bound)
    values -= np.float32(bound)
    return values


def checked_state(
    expected: dict[str, tuple[int, ...]], given: dict[str, Any], origin: str = "the weights"
) -> dict[str, np.ndarray]:
    """`given` converted to our dtypes, or a CnnUsageError naming the first key that does not fit.

    Values may be arrays, tensors or plain numbers; 0-d values (batchnorm's counter) stay 0-d.
    """
    arrays = {}
    for key, shape in expected.items():
        if key not in given:
            raise CnnUsageError(
                f"'{key}' is missing from {origin} (the network needs shape {_shape_text(shape)})"
            )
        try:
            value = np.asarray(given[key])
        except Exception as error:  # a tensor NumPy cannot view (bfloat16, on a GPU, ...) or an odd object
            raise CnnUsageError(f"'{key}' in {origin} is not an array of numbers: {error}") from None
        if shape == () and value.shape == (1,):
            value = value.reshape(())  # as torch's load_state_dict: 1-element counters of older files
        if value.shape != shape:
            raise CnnUsageError(
                f"'{key}' in {origin} has the shape {_shape_text(value.shape)}, but the network needs "
                f"{_shape_text(shape)}"
            )
        arrays[key] = value
    for key in given:
        if key not in expected:
            raise CnnUsageError(f"'{key}' in {origin} is not used by this network")
    state = {}
    for key, value in arrays.items():
        if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
            raise CnnUsageError(f"'{key}' in {origin} has the dtype {value.dtype}; expected numbers")
        dtype = np.int64 if key.endswith(".num_batches_tracked") else np.float32
        # order="C" copies only what is not already C-contiguous float32 (VGG-16's weights are
        # 528 MB); unlike np.ascontiguousarray it keeps 0-d arrays 0-d.
        state[key] = np.asarray(value, dtype=dtype, order="C")
    return state


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def read_weights(
    path: str | Path, expected: dict[str, tuple[int, ...]] | None = None
) -> dict[str, np.ndarray]:
    """A state dict from .safetensors or .npz (never pickle), or a CnnUsageError saying why not.

    With `expected` (the network's shapes), an .npz member of another shape or name is refused
    from its header, before its data is read: a 4 MB file may declare 4 GB of zeros.
    """
    path = Path(path)
    if not path.is_file():
        raise CnnUsageError(f"no such weights file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from cnndsl.plugins import require_module

        safetensors_numpy = require_module("safetensors.numpy", "numpy")
        try:  # safetensors checks that every tensor lies inside the file: memory stays bounded by its size
            return dict(safetensors_numpy.load_file(str(path)))
        except Exception as error:  # safetensors raises its own error types (and OSError, ValueError)
            raise CnnUsageError(f"cannot read {path} as safetensors: {error}") from None
    if suffix == ".npz":
        try:
            _check_npz_headers(path, expected)
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise CnnUsageError(f"cannot read {path} as .npz (pickled arrays are refused): {error}") from None
    raise CnnUsageError(f"weights must be a .safetensors or .npz file, found '{path.name}'")


def _check_npz_headers(path: Path, expected: dict[str, tuple[int, ...]] | None) -> None:
    """Each member's .npy header against its size in the zip directory and the network's shapes."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            with archive.open(info) as member:
                shape, dtype = read_npy_header(member, f"'{key}' in {path}")
                header_size = member.tell()
            declared = math.prod(shape) * dtype.itemsize
            if header_size + declared != info.file_size:
                raise CnnUsageError(
                    f"'{key}' in {path} declares {declared:,} bytes of data but holds "
                    f"{max(info.file_size - header_size, 0):,}: the file is damaged"
                )
            if expected is None:
                continue
            if key not in expected:
                raise CnnUsageError(f"'{key}' in {path} is not used by this network")
            if shape != expected[key] and not (expected[key] == () and shape == (1,)):
                raise CnnUsageError(
                    f"'{key}' in {path} has the shape {_shape_text(shape)}, but the network needs "
                    f"{_shape_text(expected[key])}"
                )


def read_npy_header(handle: BinaryIO, origin: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an .npy stream declares, read without its data; object arrays refused."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    else:  # 3.0 only adds UTF-8 field names of structured dtypes, which are not numbers anyway
        raise CnnUsageError(f"{origin}: .npy format version {version[0]}.{version[1]} is not supported")
    if dtype.hasobject:
        raise CnnUsageError(f"{origin} holds Python objects (pickled arrays are refused)")
    return tuple(shape), dtype
