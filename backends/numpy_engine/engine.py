"""The built NumPy network: weights in PyTorch's state_dict layout, a step plan, reusable buffers.

`net(x)` takes float32 NCHW (or (N, F)) batches like the torch module and returns a new array
in the same layout. Inside, activations are NHWC and live in an arena planned once per batch
size: a buffer is reused as soon as the last step reading it has run, elementwise steps write
over their input, and one scratch workspace serves every conv (no per-call page faults).
Depthwise convs, which have no GEMM for OpenBLAS to spread over the cores, split their blocks
over as many threads as OpenBLAS uses. Not thread-safe: one network runs one batch at a time.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cnndsl.errors import CnnUsageError
from cnndsl.memory import check_bytes, check_fits
from cnndsl.model import Model

from .layers import CONV_ALGORITHMS, Layer, build_layer, nhwc
from .plan import plan_steps
from .weights import checked_state, initial_state, parameter_shapes, read_weights

KEPT_ARENAS = 2  # batch sizes whose buffers stay allocated (a benchmark alternates two)


class _Arena:
    """Buffers for one batch size: which flat slot holds each value, and per-step views."""

    def __init__(self, network: NumpyNetwork, batch: int):
        steps, layers = network.steps, network.layers
        input_value = network.input_value
        last_use = {input_value: -1}
        for index, step in enumerate(steps):
            for value in step.inputs:
                last_use[value] = index
        for output_value in network.output_values:
            last_use[output_value] = len(steps)

        sizes: list[int] = []
        free: list[int] = []

        def acquire(size: int) -> int:
            fitting = [slot for slot in free if sizes[slot] >= size]
            if fitting:
                slot = min(fitting, key=lambda s: sizes[s])
                free.remove(slot)
                return slot
            sizes.append(size)
            return len(sizes) - 1

        input_shape = (batch, *nhwc(network.model.input_shape))
        shapes = {input_value: input_shape}
        slot_of = {input_value: acquire(math.prod(input_shape))}
        plans = []
        workspace = 0
        for index, (step, layer) in enumerate(zip(steps, layers)):
            needs = layer.needs(batch)
            first = step.inputs[0] if step.inputs else None
            reusable = layer.inplace and last_use.get(first) == index and shapes[first] == needs.output
            slot_of[step.output] = slot_of[first] if reusable else acquire(math.prod(needs.output))
            shapes[step.output] = needs.output
            padded = acquire(math.prod(needs.padded)) if needs.padded else None
            workspace = max(workspace, needs.workspace)
            if padded is not None:
                free.append(padded)
            for value in set(step.inputs):
                if last_use[value] == index and slot_of[value] != slot_of[step.output]:
                    free.append(slot_of[value])
            plans.append((step, needs, padded))

        # Planned exactly: refuse here rather than fail in np.empty (a batch of 100,000 images).
        itemsize = np.dtype(np.float32).itemsize
        check_bytes(f"{network.name} on a batch of {batch:,}", (sum(sizes) + workspace) * itemsize)
        self.buffers = [np.empty(size, np.float32) for size in sizes]
        self.workspace = np.empty(max(workspace, 1), np.float32)
        self.views = {value: self._view(slot_of[value], shape) for value, shape in shapes.items()}
        self.calls = []
        for (step, needs, padded), layer in zip(plans, layers):
            inputs = [self.views[value] for value in step.inputs]
            padded_view = None if padded is None else self._view(padded, needs.padded)
            self.calls.append((layer, inputs, self.views[step.output], padded_view))
        self.input = self.views[input_value]
        self.outputs = [self.views[value] for value in network.output_values]

    def _view(self, slot: int, shape: tuple[int, ...]) -> np.ndarray:
        return self.buffers[slot][: math.prod(shape)].reshape(shape)

    @property
    def nbytes(self) -> int:
        return sum(buffer.nbytes for buffer in self.buffers) + self.workspace.nbytes


def kernel_threads() -> int:
    """The threads OpenBLAS runs its GEMMs on (its own environment variables, else every core)."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(variable, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def _compute_all(compute, blocks: list) -> None:
    for block in blocks:
        compute(*block)


def _check_seed(seed: Any) -> None:
    """None or a non-negative integer, as np.random.default_rng takes (bool is a mistake, not 0 or 1)."""
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        return
    raise CnnUsageError(f"seed must be a non-negative integer or None, found {seed!r}")


class NumpyNetwork:
    """A network lowered to NumPy: call it on a float32 batch; weights as PyTorch names them."""

    def __init__(
        self,
        model: Model,
        *,
        seed: int | None = None,
        conv_algorithm: str = "auto",
        fuse: bool = True,
        logits: bool = False,
        weights: str | Path | dict[str, Any] | None = None,
    ):
        """`weights`: a state dict or a .safetensors/.npz file; without, PyTorch's default init.

        `logits` leaves out a trailing softmax or sigmoid; `fuse=False` runs every op on its own.
        """
        _check_seed(seed)
        if conv_algorithm not in CONV_ALGORITHMS:
            raise CnnUsageError(
                f"conv_algorithm must be one of {', '.join(CONV_ALGORITHMS)}, found '{conv_algorithm}'"
            )
        check_fits(model)  # the weights alone may exceed memory (2^40 channels): say so, allocate nothing
        self.model = model
        self.conv_algorithm = conv_algorithm
        graph = model.graph
        self.steps, values = plan_steps(graph, fuse, logits)
        self.input_value = values[graph.graph["inputs"][0]]
        if logits and len(graph.graph["outputs"]) > 1:
            raise CnnUsageError(f"logits=True needs a network with one output; {model.name} has several")
        # Several outputs (`output a, b`) come back as a tuple, in the declared order.
        self.output_values = [values[node] for node in graph.graph["outputs"]]
        self._shapes = parameter_shapes(graph)
        self._arenas: dict[int, _Arena] = {}
        self.threads = kernel_threads()
        self._pool: ThreadPoolExecutor | None = None  # started by the first depthwise conv run
        if weights is None:
            self._state = initial_state(graph, seed)
            self._pack()
        elif isinstance(weights, dict):
            self.load_state_dict(weights)
        else:
            self.load_weights(weights)  # never initialised at random first: one copy of VGG is enough

    # ----- weights ---------------------------------------------------------------------------
    def _pack(self) -> None:
        graph, state, algorithm = self.model.graph, self._state, self.conv_algorithm
        self.layers: list[Layer] = [build_layer(graph, step, state, algorithm) for step in self.steps]
        self._arenas.clear()  # their per-step calls hold the layers just replaced
        if self.threads > 1:
            for layer in self.layers:
                if getattr(layer, "algorithm", None) == "depthwise":
                    layer.run_blocks = self._run_blocks

    def _run_blocks(self, compute, blocks: list) -> None:
        """Deal the blocks out round-robin: one share on this thread, the others on the pool's.

        The blocks are the same whatever the thread count, so the results are too.
        """
        shares = [blocks[first :: self.threads] for first in range(min(self.threads, len(blocks)))]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="cnndsl-numpy")
        pending = [self._pool.submit(_compute_all, compute, share) for share in shares[1:]]
        _compute_all(compute, shares[0])
        for future in pending:
            future.result()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter and batchnorm buffer under the torch backend's names (read-only views)."""
        state = {}
        for key, value in self._state.items():
            view = value.view()
            view.flags.writeable = False  # changes go through load_state_dict, which repacks
            state[key] = view
        return state

    def load_state_dict(self, state: dict[str, Any], origin: str = "the state dict") -> None:
        """Replace every parameter (all keys required, none extra, shapes exact), then repack."""
        self._state = checked_state(self._shapes, dict(state), origin)
        self._pack()

    def load_weights(self, path: str | Path) -> None:
        """Load a .safetensors or .npz file of state_dict arrays."""
        self.load_state_dict(read_weights(path, self._shapes), origin=str(path))

    # ----- running ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.model.name

    def check_input(self, x: Any) -> np.ndarray:
        """x itself if it is a float32 batch of the input shape; a CnnUsageError saying what is expected."""
        expected = self.model.input_shape
        wanted = f"a float32 array of shape (N, {', '.join(str(d) for d in expected)})"
        if not isinstance(x, np.ndarray):
            raise CnnUsageError(f"{self.name} expects {wanted}, found {type(x).__name__}")
        if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != tuple(expected) or x.shape[0] < 1:
            raise CnnUsageError(f"{self.name} expects {wanted}, found shape {tuple(x.shape)}")
        if x.dtype != np.float32:
            hint = "convert it with x.astype(np.float32)"
            raise CnnUsageError(f"{self.name} expects {wanted}, found dtype {x.dtype}; {hint}")
        return x

    def _arena(self, batch: int) -> _Arena:
        arena = self._arenas.pop(batch, None) or _Arena(self, batch)
        self._arenas[batch] = arena  # most recently used last
        while len(self._arenas) > KEPT_ARENAS:
            self._arenas.pop(next(iter(self._arenas)))
        return arena

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def forward(self, x: np.ndarray) -> np.ndarray:
        arena = self._start(x)
        for layer, inputs, out, padded in arena.calls:
            layer(inputs, out, padded, arena.workspace)
        return self._finish(arena)

    def profile(self, x: np.ndarray) -> list[tuple[str, str, float]]:
        """One forward pass timed per step: (node id, kind, seconds), in execution order."""
        arena = self._start(x)
        timings = []
        for layer, inputs, out, padded in arena.calls:
            start = time.perf_counter()
            layer(inputs, out, padded, arena.workspace)
            timings.append((layer.step.head, layer.kind, time.perf_counter() - start))
        self._finish(arena)
        return timings

    def _start(self, x: np.ndarray) -> _Arena:
        x = self.check_input(x)
        arena = self._arena(x.shape[0])
        np.copyto(arena.input, x.transpose(0, 2, 3, 1) if x.ndim == 4 else x)
        return arena

    def _finish(self, arena: _Arena) -> np.ndarray | tuple[np.ndarray, ...]:
        results = tuple(
            np.ascontiguousarray(result.transpose(0, 3, 1, 2)) if result.ndim == 4 else result.copy()
            for result in arena.outputs
        )
        return results if len(results) > 1 else results[0]

    def algorithms(self) -> dict[str, str]:
        """Each step's head node id and the kernel it runs (`conv 3x3 winograd`, `maxpool`, ...)."""
        return {layer.step.head: layer.kind for layer in self.layers}

    def __repr__(self) -> str:
        return f"<NumpyNetwork {self.name}: {len(self.steps)} steps for {len(self.model.graph)} ops>"
