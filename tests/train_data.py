"""Data for the `cnndsl train` tests: scikit-learn's 8x8 digits as an image folder or an .npz file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TINY_NETWORK = """
network tiny(classes=10) {
    input 1x8x8
    flatten
    fc classes
    softmax
}
"""


def digits(count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The digits as uint8 pixels (N, 8, 8) and their labels (1,797 ships inside scikit-learn)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    pixels = np.rint(data.images * (255 / 16)).astype(np.uint8)
    return pixels[:count], data.target[:count].astype(np.int64)


def write_image_folder(folder: Path, size: int = 32, count: int | None = None) -> Path:
    """FOLDER/DIGIT/NNNN.png, upscaled to size x size (bilinear, as a user's resize would be)."""
    from PIL import Image

    pixels, labels = digits(count)
    for index, (image, label) in enumerate(zip(pixels, labels)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        picture = Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR)
        picture.save(folder / str(label) / f"{index:04d}.png")
    return folder


def write_arrays(path: Path, size: int = 32, count: int | None = None) -> Path:
    """x (N, 1, size, size) uint8, upscaled by repeating pixels, and y (N,) as an .npz file."""
    pixels, labels = digits(count)
    factor = size // 8
    x = pixels.repeat(factor, axis=1).repeat(factor, axis=2)[:, None]
    np.savez(path, x=x, y=labels)
    return path
