"""Small nn.Module classes the generated file defines where torch.nn has none.

Each is written once at the top of a generated module that uses it, as torchvision writes them,
so the file still imports only torch. HELPERS maps a class name to its source.
"""

from __future__ import annotations

LAYER_NORM_2D = '''
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of NCHW images: each pixel's C values.

    As torchvision's ConvNeXt writes it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(
            x, self.normalized_shape, self.weight, self.bias, self.eps
        )
        return x.permute(0, 3, 1, 2)
'''

LAYER_SCALE = '''
class LayerScale(nn.Module):
    """A learned scale per channel (ConvNeXt's layer scale), starting at `init`."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels, 1, 1), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight
'''

DROP_PATH = '''
class DropPath(nn.Module):
    """Stochastic depth, the identity in eval mode.

    While training, drops whole examples with probability p and rescales the rest by
    1 / (1 - p) (torchvision.ops.StochasticDepth, mode="row").
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - self.p)
        return x * keep.div_(1 - self.p)
'''

HELPERS = {
    "LayerNorm2d": LAYER_NORM_2D,
    "LayerScale": LAYER_SCALE,
    "DropPath": DROP_PATH,
}


def helpers_used(calls: list[str]) -> list[str]:
    """The helpers among the names of constructors and functions called, in HELPERS' order."""
    return [name for name in HELPERS if name in calls]
