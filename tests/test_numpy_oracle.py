"""The NumPy backend against PyTorch as the oracle: every op, every conv algorithm, random networks.

`torch_reference` runs the IR with torch.nn.functional, op by op, using PyTorch's own padding,
ceil-mode and count_include_pad arguments wherever the padding is symmetric.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnndsl

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _symmetric(pads) -> bool:
    return pads[0] == pads[1] and pads[2] == pads[3]


def torch_reference(model: cnndsl.Model, state: dict, x: np.ndarray) -> np.ndarray:
    """The model's output computed with torch.nn.functional in float32, eval mode."""
    graph = model.graph
    tensors = {key: torch.from_numpy(np.asarray(value)) for key, value in state.items()}
    values = {}
    for node, data in graph.nodes(data=True):
        op, attrs = data["op"], data["attrs"]
        inputs = [values[source] for source in data["inputs"]]
        a = inputs[0] if inputs else None
        if op == "input":
            result = torch.from_numpy(x)
        elif op == "conv":
            top, bottom, left, right = attrs["pads"]
            result = F.conv2d(
                F.pad(a, (left, right, top, bottom)),
                tensors[f"{node}.weight"],
                tensors.get(f"{node}.bias"),
                attrs["stride"],
                0,
                attrs["dilation"],
                attrs["groups"],
            )
        elif op in ("maxpool", "avgpool"):
            pads = attrs["pads"]
            common = dict(kernel_size=attrs["kernel"], stride=attrs["stride"], ceil_mode=attrs["ceil"])
            padding = (pads[0], pads[2]) if _symmetric(pads) else (0, 0)
            if not _symmetric(pads):
                fill = float("-inf") if op == "maxpool" else 0.0
                a = F.pad(a, (pads[2], pads[3], pads[0], pads[1]), value=fill)
            if op == "maxpool":
                result = F.max_pool2d(a, padding=padding, **common)
            else:
                result = F.avg_pool2d(a, padding=padding, count_include_pad=attrs["count_pad"], **common)
        elif op == "globalavgpool":
            result = a.mean((2, 3), keepdim=True)
        elif op == "globalmaxpool":
            result = a.amax((2, 3), keepdim=True)
        elif op == "adaptiveavgpool":
            result = F.adaptive_avg_pool2d(a, attrs["size"])
        elif op == "batchnorm":
            result = F.batch_norm(
                a,
                tensors[f"{node}.running_mean"],
                tensors[f"{node}.running_var"],
                tensors[f"{node}.weight"],
                tensors[f"{node}.bias"],
                training=False,
                eps=attrs["eps"],
            )
        elif op == "lrn":
            result = F.local_response_norm(a, attrs["size"], attrs["alpha"], attrs["beta"], attrs["k"])
        elif op == "relu":
            result = F.relu(a)
        elif op == "leakyrelu":
            result = F.leaky_relu(a, attrs["slope"])
        elif op == "tanh":
            result = torch.tanh(a)
        elif op == "sigmoid":
            result = torch.sigmoid(a)
        elif op == "softmax":
            result = F.softmax(a, dim=1)
        elif op == "dropout":
            result = a
        elif op == "flatten":
            result = torch.flatten(a, 1)
        elif op == "fc":
            result = F.linear(a, tensors[f"{node}.weight"], tensors.get(f"{node}.bias"))
        elif op == "add":
            result = sum(inputs[1:], inputs[0])
        elif op == "concat":
            result = torch.cat(inputs, dim=1)
        else:
            raise AssertionError(f"no reference for op {op}")
        values[node] = result
    return values[graph.graph["outputs"][0]].numpy()


def randomise_batchnorm(state: dict, rng: np.random.Generator) -> dict:
    """Statistics and affine parameters far from the identity, so folding them must be right."""
    state = dict(state)
    for key, value in state.items():
        if key.endswith((".running_mean", ".bias")) and value.ndim == 1:
            state[key] = rng.normal(0, 0.5, value.shape).astype(np.float32)
        elif key.endswith((".running_var",)):
            state[key] = rng.uniform(0.3, 2.0, value.shape).astype(np.float32)
        elif key.endswith(".weight") and value.ndim == 1:
            state[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
    return state


def assert_matches(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-4) -> None:
    """Equal within rtol relative to the output's largest magnitude (float32 sums reorder)."""
    assert actual.shape == expected.shape
    assert actual.dtype == np.float32
    scale = max(float(np.abs(expected).max()), 1e-30)
    error = float(np.abs(actual - expected).max()) / scale
    assert error <= rtol, f"max error {error:.2e} of the output scale {scale:.3g}"
