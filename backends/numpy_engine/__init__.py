"""NumPy backend: a float32 inference engine that computes what PyTorch computes.

Registered as the `numpy` entry point of `cnndsl.backends`. NumPy is imported only when the
backend is used, so `cnndsl check` and `summary` never load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnndsl.plugins import require_module

if TYPE_CHECKING:
    from cnndsl.model import Model

    from .engine import NumpyNetwork


class NumpyBackend:
    """`model.build("numpy")` and `cnndsl compile --backend numpy`."""

    name = "numpy"
    file_suffix = "_np"  # compile's default output: {network}_np.py

    def build(self, model: Model, **options: Any) -> NumpyNetwork:
        """A NumpyNetwork; options: seed, conv_algorithm ("auto", "im2col", "winograd"), fuse,
        logits (leave out a trailing softmax/sigmoid), weights (a state dict or a file path)."""
        require_module("numpy", "numpy")
        from .engine import NumpyNetwork

        return NumpyNetwork(model, **_known(options, ("seed", "conv_algorithm", "fuse", "logits", "weights")))

    def generate_source(self, model: Model, **options: Any) -> str:
        """A standalone Python module that needs only NumPy (see codegen.py)."""
        require_module("numpy", "numpy")
        from .codegen import generate_source

        return generate_source(model, **_known(options, ("conv_algorithm", "logits")))


def _known(options: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    from cnndsl.errors import CnnUsageError

    unknown = sorted(set(options) - set(names))
    if unknown:
        listing = ", ".join(names)
        raise CnnUsageError(f"the numpy backend has no option {', '.join(unknown)}; it takes {listing}")
    return options
