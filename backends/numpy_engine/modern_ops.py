"""Activations and normalisations of modern CNNs on float32 arrays, channels on the last axis.

Images are NHWC and vectors (N, F), so per-channel work broadcasts over the last axis alike.
Each kernel writes into a caller-provided `out`; the activations may be given `out is x`.
Semantics follow PyTorch's modules in eval mode. Needs only numpy: codegen.py copies it.
"""

from __future__ import annotations

import numpy as np


def relu6(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 6, out=out)


def hardsigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """relu6(x + 3) / 6, as PyTorch's Hardsigmoid."""
    np.add(x, 3, out=out)
    np.clip(out, 0, 6, out=out)
    np.divide(out, 6, out=out)
    return out


def hardswish(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """x * relu6(x + 3) / 6."""
    gate = np.add(x, 3)
    np.clip(gate, 0, 6, out=gate)
    np.multiply(x, gate, out=out)
    np.divide(out, 6, out=out)
    return out


def silu(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """x * sigmoid(x) = h + h * tanh(h) with h = x / 2: four passes, none of which can overflow.

    (16x faster than sigmoid's exp/where/divide; within 5e-7 of PyTorch's.)
    """
    half = np.multiply(x, np.float32(0.5))
    np.tanh(half, out=out)
    np.multiply(out, half, out=out)
    return np.add(out, half, out=out)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function in float32 (NumPy has none): odd, 1 - poly(t) e^-x^2 for x >= 0.

    Abramowitz and Stegun 7.1.26, within 1.5e-7 of erf: far below float32's 1e-4 budget here.
    (Its constants are local: codegen.py copies module-level integers only.)
    """
    a = np.abs(x)
    t = 1 / (1 + np.float32(0.3275911) * a)
    poly = np.zeros_like(t)
    for coefficient in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(coefficient)
        poly *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    np.multiply(poly, a, out=poly)
    np.subtract(1, poly, out=poly)
    return np.copysign(poly, x, out=poly)


def gelu(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2))."""
    gate = erf(x * np.float32(1 / np.sqrt(2)))
    gate += 1
    gate *= 0.5
    return np.multiply(x, gate, out=out)


def gelu_tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))), PyTorch's approximate="tanh"."""
    inner = x * x
    inner *= np.float32(0.044715)
    inner += 1
    inner *= x
    inner *= np.float32(np.sqrt(2 / np.pi))
    np.tanh(inner, out=inner)
    inner += 1
    inner *= 0.5
    return np.multiply(x, inner, out=out)


def mish(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """x * tanh(softplus(x)); softplus as log(1 + e^x) without overflow."""
    gate = np.logaddexp(np.float32(0), x)
    np.tanh(gate, out=gate)
    return np.multiply(x, gate, out=out)


def elu(x: np.ndarray, alpha: float, out: np.ndarray) -> np.ndarray:
    """x for x > 0, alpha * (e^x - 1) otherwise (expm1 keeps small negative x exact)."""
    negative = np.minimum(x, 0)
    np.expm1(negative, out=negative)
    negative *= np.float32(alpha)
    return _select_positive(x, negative, out)


def _select_positive(x: np.ndarray, otherwise: np.ndarray, out: np.ndarray) -> np.ndarray:
    positive = x > 0
    np.copyto(out, otherwise, where=~positive)
    np.copyto(out, x, where=positive)
    return out


def prelu(x: np.ndarray, weight: np.ndarray, out: np.ndarray) -> np.ndarray:
    """max(0, x) + weight * min(0, x): one slope per channel (the last axis) or one shared."""
    negative = np.minimum(x, 0)
    negative *= weight
    np.maximum(x, 0, out=out)
    np.add(out, negative, out=out)
    return out


def _normalise(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) over `axes`, a new array (biased variance, as PyTorch)."""
    centred = x - x.mean(axis=axes, keepdims=True)
    variance = np.mean(np.square(centred), axis=axes, keepdims=True)
    variance += np.float32(eps)
    centred *= 1 / np.sqrt(variance)
    return centred


def _affine(normalised: np.ndarray, weight, bias, out: np.ndarray) -> np.ndarray:
    if weight is None:
        np.copyto(out, normalised)
        return out
    np.multiply(normalised, weight, out=out)
    np.add(out, bias, out=out)
    return out


def layer_norm(x: np.ndarray, weight, bias, eps: float, out: np.ndarray) -> np.ndarray:
    """Each pixel's (or vector's) channels to mean 0, variance 1, then scaled and shifted."""
    return _affine(_normalise(x, (-1,), eps), weight, bias, out)


def group_norm(x: np.ndarray, weight, bias, groups: int, eps: float, out: np.ndarray) -> np.ndarray:
    """Each example's channel groups (with all their pixels) normalised together."""
    images, channels = x.shape[0], x.shape[-1]
    grouped = x.reshape(images, -1, groups, channels // groups)
    normalised = _normalise(grouped, (1, 3), eps).reshape(x.shape)
    return _affine(normalised, weight, bias, out)


def instance_norm(x: np.ndarray, weight, bias, eps: float, out: np.ndarray) -> np.ndarray:
    """Each example's channels normalised over height and width (NHWC: axes 1 and 2)."""
    return _affine(_normalise(x, (1, 2), eps), weight, bias, out)


def layer_scale(x: np.ndarray, weight: np.ndarray, out: np.ndarray) -> np.ndarray:
    """x times a learned factor per channel; the weight is stored (C, 1, 1) as in PyTorch."""
    return np.multiply(x, weight.reshape(-1), out=out)
