"""Hand-written PyTorch references for the built-ins torchvision lacks: U-Net and VGG-19's style taps.

Each is written from its paper's description, not from the .cnn file, so that a test comparing
the two checks the file against the paper. torch is imported inside the builders: this module is
imported by tests that run without torch too.
"""

from __future__ import annotations

# torchvision vgg19's `features` indices of the ReLUs after conv1_1, conv2_1, conv3_1, conv4_1 and
# conv5_1: the activations Gatys et al. take as style features.
STYLE_TAPS = (1, 6, 11, 20, 29)


def unet(pad: int = 0, classes: int = 2):
    """Ronneberger et al. 2015, Fig. 1 (pad=0), or with padded 3x3 convs (pad=1).

    Contracting path: two 3x3 convs + ReLU, then a 2x2 max pool, channels 64 to 1024. Expansive
    path: a 2x2 up-convolution halving the channels, the contracting map centre-cropped to its
    size and concatenated before it, two 3x3 convs + ReLU. A final 1x1 conv to the classes.
    """
    import torch
    from torch import nn

    def double_conv(in_channels: int, channels: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=pad),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=pad),
            nn.ReLU(),
        )

    def centre_crop(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        top = (x.shape[2] - like.shape[2]) // 2
        left = (x.shape[3] - like.shape[3]) // 2
        return x[:, :, top : top + like.shape[2], left : left + like.shape[3]]

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            widths = (64, 128, 256, 512)
            self.down = nn.ModuleList(double_conv(c_in, c) for c_in, c in zip((1, *widths[:-1]), widths))
            self.bottom = double_conv(512, 1024)
            self.up = nn.ModuleList(nn.ConvTranspose2d(c * 2, c, 2, stride=2) for c in reversed(widths))
            self.decode = nn.ModuleList(double_conv(c * 2, c) for c in reversed(widths))
            self.head = nn.Conv2d(64, classes, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skips = []
            for step in self.down:
                x = step(x)
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
            x = self.bottom(x)
            for up, decode, skip in zip(self.up, self.decode, reversed(skips)):
                x = up(x)
                x = decode(torch.cat([centre_crop(skip, x), x], dim=1))
            return self.head(x)

    return UNet()


def unet_key(key: str) -> str:
    """paper_reference.unet's names -> unet.cnn's (enc1..4, bottom, up4..1, dec4..1, head)."""
    module, _, leaf = key.rpartition(".")
    parts = module.split(".")
    if parts[0] == "head":
        return key
    if parts[0] == "bottom":
        return f"bottom.conv{int(parts[1]) // 2 + 1}.{leaf}"
    level = int(parts[1])  # down: 0 -> enc1; up and decode: 0 -> up4/dec4 (the deepest)
    if parts[0] == "down":
        return f"enc{level + 1}.conv{int(parts[2]) // 2 + 1}.{leaf}"
    if parts[0] == "up":
        return f"up{4 - level}.{leaf}"
    return f"dec{4 - level}.conv{int(parts[2]) // 2 + 1}.{leaf}"


def style_taps(features):
    """torchvision vgg19's `features` run layer by layer up to conv5_1's ReLU, returning the five taps."""
    from torch import nn

    class StyleTaps(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = features[: STYLE_TAPS[-1] + 1]

        def forward(self, x):
            taps = []
            for index, layer in enumerate(self.features):
                x = layer(x)
                if index in STYLE_TAPS:
                    taps.append(x)
            return tuple(taps)

    return StyleTaps()
