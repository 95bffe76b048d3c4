"""docs/tutorial.md's section 18 runs as written: the Gram matrices of VGG-19's five style taps."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
from conftest import ROOT

TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```(python|text)\n(.*?)^```$", re.M | re.S)


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    return text[start : text.index("\n## ", start + 1)]


def test_style_transfer_example_computes_the_gram_matrices():
    blocks = BLOCK.findall(section(TUTORIAL.read_text(), "## 18. Style transfer"))
    assert [kind for kind, _ in blocks] == ["python", "text"]
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(blocks[0][1], namespace)
    assert printed.getvalue() == blocks[1][1]
    grams, taps = namespace["grams"], namespace["taps"]
    assert list(grams) == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    for gram, features in zip(grams.values(), taps):
        _, channels, height, width = features.shape
        flat = features[0].reshape(channels, -1).astype(np.float64)
        assert gram.shape == (channels, channels)
        np.testing.assert_allclose(gram, flat @ flat.T / flat.size, rtol=1e-4, atol=1e-7)


def test_unet_excerpt_is_the_files_text():
    """Section 17 quotes a decoder step of architectures/unet.cnn: it must stay the file's text."""
    blocks = BLOCK.findall(section(TUTORIAL.read_text(), "## 17. U-Net"))
    assert [kind for kind, _ in blocks] == ["text"]
    network = (ROOT / "architectures" / "unet.cnn").read_text()
    assert blocks[0][1] in network.replace("\n    ", "\n")
