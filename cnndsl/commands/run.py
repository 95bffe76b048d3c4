"""`cnndsl run FILE`: run a network on an .npy array or an image and print or save the output.

NumPy (and Pillow for images) are imported only when the command runs; the default backend is
numpy, and torch runs the same input through the torch backend's module.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..errors import CnnUsageError
from .common import add_network_options, load_from_args

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
# torchvision's ImageNet statistics: what pretrained 3-channel classifiers expect by default.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRINT_LIMIT = 64  # print outputs with at most this many numbers per image; summarise larger ones


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run a network on an input (.npy or image) with the numpy or torch backend"
    )
    add_network_options(parser, shape_flag="--shape")  # --input here is the data file
    parser.add_argument("--input", "-i", metavar="PATH", help="an .npy array or an image; random if left out")
    parser.add_argument("--output", "-o", metavar="PATH.npy", help="save the output array here")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    parser.add_argument("--backend", "-b", default="numpy", help="numpy (default) or torch")
    parser.add_argument("--weights", "-w", metavar="PATH", help="parameters: .safetensors or .npz")
    parser.add_argument("--top", type=int, metavar="K", help="print the K most probable classes per input")
    parser.add_argument(
        "--labels", metavar="PATH", help="a text file of class names, one per line, for --top"
    )
    parser.add_argument("--batch", type=int, metavar="N", help="random input of N images (a smoke run)")
    parser.add_argument("--seed", type=int, default=0, help="seed for random weights and inputs (default 0)")
    image = parser.add_argument_group("image inputs")
    image.add_argument("--resize", type=int, metavar="PIXELS", help="scale the shorter side to this first")
    image.add_argument("--mean", metavar="M[,M,M]", help="per-channel mean to subtract (0-1 pixel scale)")
    image.add_argument("--std", metavar="S[,S,S]", help="per-channel standard deviation to divide by")
    image.add_argument("--no-normalize", action="store_true", help="feed pixels scaled to 0-1 as they are")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.batch is not None and args.batch < 1:
        raise CnnUsageError(f"--batch must be at least 1, found {args.batch}")
    if args.top is not None and args.top < 1:
        raise CnnUsageError(f"--top must be at least 1, found {args.top}")
    if args.input and args.batch:
        raise CnnUsageError("--batch makes random input; leave it out when giving --input")
    from ..plugins import require_module

    np = require_module("numpy", "numpy")
    model = load_from_args(args)
    if args.input:
        x = read_input(Path(args.input), model.input_shape, args)
    else:
        x = np.random.default_rng(args.seed).standard_normal((args.batch or 1, *model.input_shape))
        x = x.astype(np.float32)
    network = build(model, args)
    start = time.perf_counter()
    y = network(x)
    elapsed = time.perf_counter() - start
    if args.output:
        save_output(Path(args.output), y, args.force)
    if args.top:
        print_top(y, args.top, model, read_labels(args.labels) if args.labels else None)
    elif not args.output:
        print_output(y)
    source = args.input or f"random input x{x.shape[0]}"
    print(f"{model.name} on {source}: output {tuple(y.shape)} in {elapsed * 1000:.1f} ms ({args.backend})")
    if args.output:
        print(f"wrote {args.output}")
    return 0


def build(model: Any, args: argparse.Namespace) -> Any:
    """The chosen backend's network, weights loaded, as a function from a NumPy batch to a NumPy array."""
    from ..backends.numpy_engine.weights import checked_state, parameter_shapes, read_weights

    state = None
    if args.weights:
        state = checked_state(parameter_shapes(model.graph), read_weights(args.weights), args.weights)
    if args.backend == "numpy":
        return model.build("numpy", seed=args.seed, weights=state)
    if args.backend != "torch":
        raise CnnUsageError(f"cnndsl run supports the numpy and torch backends, not '{args.backend}'")
    from ..plugins import require_module

    torch = require_module("torch", "torch")
    torch.manual_seed(args.seed)
    module = model.build("torch")
    if state is not None:
        module.load_state_dict({key: torch.from_numpy(value) for key, value in state.items()})
    module.eval()

    def run_module(x: Any) -> Any:
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return run_module


def read_input(path: Path, shape: tuple[int, ...], args: argparse.Namespace) -> Any:
    if not path.is_file():
        raise CnnUsageError(f"no such input file: {path}")
    if path.suffix.lower() == ".npy":
        return read_array(path, shape)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return read_image(path, shape, args)
    raise CnnUsageError(f"--input must be an .npy array or an image ({', '.join(sorted(IMAGE_SUFFIXES))})")


def read_array(path: Path, shape: tuple[int, ...]) -> Any:
    """An (N, *shape) float32 batch from an .npy file holding a batch, one input, or a grey HxW."""
    import numpy as np

    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise CnnUsageError(f"cannot read {path} as .npy (pickled arrays are refused): {error}") from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) or np.iscomplexobj(array):
        raise CnnUsageError(f"{path} holds {array.dtype} values; expected real numbers")
    dims = "x".join(str(d) for d in shape)
    if array.shape == tuple(shape):
        array = array[None]
    elif shape[0] == 1 and array.shape == tuple(shape[1:]):
        array = array[None, None]  # a grey image written without its channel axis
    elif array.ndim != len(shape) + 1 or array.shape[1:] != tuple(shape) or array.shape[0] < 1:
        raise CnnUsageError(
            f"{path} holds an array of shape {tuple(array.shape)}, but the network expects {dims} "
            f"inputs: an array of shape {tuple(shape)} or (N, {', '.join(str(d) for d in shape)})"
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def read_image(path: Path, shape: tuple[int, ...], args: argparse.Namespace) -> Any:
    """Decode, resize the shorter side, centre-crop to the input size, scale to 0-1, normalise."""
    import numpy as np

    from ..plugins import require_module

    if len(shape) != 3 or shape[0] not in (1, 3):
        raise CnnUsageError(f"images need a 1- or 3-channel CxHxW input, but the network takes {shape}")
    image_module = require_module("PIL.Image", "numpy")
    channels, height, width = shape
    try:
        with image_module.open(path) as opened:
            image = opened.convert("RGB" if channels == 3 else "L")
    except (OSError, ValueError, image_module.DecompressionBombError) as error:
        raise CnnUsageError(f"cannot read {path} as an image: {error}") from None
    shorter = args.resize or max(height, width)
    scale = shorter / min(image.size)
    resized = (max(width, round(image.size[0] * scale)), max(height, round(image.size[1] * scale)))
    image = image.resize(resized, image_module.Resampling.BILINEAR)
    left, top = (resized[0] - width) // 2, (resized[1] - height) // 2
    image = image.crop((left, top, left + width, top + height))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = pixels.reshape(height, width, channels).transpose(2, 0, 1)
    if not args.no_normalize:
        default_mean, default_std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.0,), (1.0,))
        mean = _per_channel(args.mean, default_mean, channels, "--mean")
        std = _per_channel(args.std, default_std, channels, "--std")
        if np.any(std == 0):
            raise CnnUsageError("--std must not contain 0")
        pixels = (pixels - mean[:, None, None]) / std[:, None, None]
    return np.ascontiguousarray(pixels[None], dtype=np.float32)


def _per_channel(text: str | None, default: tuple[float, ...], channels: int, option: str) -> Any:
    import numpy as np

    if text is None:
        values = default
    else:
        try:
            values = tuple(float(part) for part in text.split(","))
        except ValueError:
            raise CnnUsageError(f"{option} expects numbers separated by commas, found '{text}'") from None
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise CnnUsageError(f"{option} needs 1 or {channels} values, found {len(values)}")
    return np.array(values, dtype=np.float32)


def save_output(path: Path, y: Any, force: bool) -> None:
    """Write y as .npy atomically: readers never see half a file, and nothing is overwritten unasked."""
    import numpy as np

    from ..output_files import check_overwrite, write_through

    if path.suffix.lower() != ".npy":
        raise CnnUsageError(f"--output must name an .npy file, found '{path.name}'")
    check_overwrite(path, force, recognisable=False)  # an .npy file has no room for cnndsl's header

    def write(temporary: Path) -> None:
        with temporary.open("wb") as handle:  # a file handle: np.save would append .npy to a name
            np.save(handle, y, allow_pickle=False)

    write_through(path, write)


def read_labels(path_text: str) -> list[str]:
    path = Path(path_text)
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as error:
        raise CnnUsageError(f"cannot read labels from {path}: {error}") from None


def print_top(y: Any, k: int, model: Any, labels: list[str] | None) -> None:
    """The K largest probabilities per input (softmax applied unless the network ends in one)."""
    import numpy as np

    if y.ndim != 2:
        raise CnnUsageError(f"--top needs a network with a flat output, but {model.name} gives {y.shape[1:]}")
    last_op = model.graph.nodes[model.graph.graph["outputs"][0]]["op"]
    probabilities = y.astype(np.float64)
    if last_op not in ("softmax", "sigmoid"):
        probabilities = np.exp(probabilities - probabilities.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
    k = min(k, y.shape[1])
    for index, row in enumerate(probabilities):
        if len(probabilities) > 1:
            print(f"input {index}:")
        for rank, cls in enumerate(np.argsort(-row, kind="stable")[:k], 1):
            name = f"  {labels[cls]}" if labels and cls < len(labels) else ""
            print(f"{rank:>3}. class {cls:>5}  {row[cls]:.4f}{name}")


def print_output(y: Any) -> None:
    import numpy as np

    per_item = y[0].size
    if per_item <= PRINT_LIMIT:
        with np.printoptions(precision=4, suppress=True):
            for item in y:
                print(item if item.ndim != 3 or item.shape[0] != 1 else item[0])
        return
    print(f"output {tuple(y.shape)}: min {y.min():.4g}, max {y.max():.4g}, mean {y.mean():.4g}")
