"""`cnndsl run FILE`: run a network on an .npy array or an image and print or save the output.

NumPy (and Pillow for images) are imported only when the command runs; the default backend is
numpy, and torch runs the same input through the torch backend's module.
"""

from __future__ import annotations

import argparse
import time
import zipfile
from pathlib import Path
from typing import Any

from .. import allocator, blas_threads
from ..errors import CnnUsageError
from .common import add_network_options, load_from_args
from .run_inputs import input_batch, read_input, read_labels

SEED_LIMIT = 2**64  # torch.manual_seed takes seeds below this; NumPy takes any non-negative one
RESIZE_LIMIT = 1_000_000  # pixels on the shorter side: far past any real image, inside float range

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
    if not 0 <= args.seed < SEED_LIMIT:
        raise CnnUsageError(f"--seed must be an integer from 0 to 2**64 - 1, found {args.seed}")
    if args.resize is not None and not 1 <= args.resize <= RESIZE_LIMIT:
        raise CnnUsageError(f"--resize must be from 1 to {RESIZE_LIMIT:,} pixels, found {args.resize}")
    if args.input and args.batch:
        raise CnnUsageError("--batch makes random input; leave it out when giving --input")
    allocator.keep_freed_memory()  # this process is ours: large activations reuse their pages
    blas_threads.sleep_idle_blas_threads()  # before anything imports numpy
    from ..memory import check_fits
    from ..plugins import require_module

    np = require_module("numpy", "numpy")
    model = load_from_args(args)
    names = model.output_names
    if len(names) > 1 and args.top:
        raise CnnUsageError(f"--top needs a network with one output; {model.name} has {len(names)}")
    if len(names) > 1 and args.output and Path(args.output).suffix.lower() != ".npz":
        raise CnnUsageError(
            f"{model.name} has {len(names)} outputs: --output must name an .npz file to hold them all, "
            f"found '{Path(args.output).name}'"
        )
    batch = input_batch(Path(args.input), model.input_shape) if args.input else args.batch or 1
    check_fits(model, batch)  # before the input, the weights or any activation is allocated
    if args.input:
        x = read_input(Path(args.input), model.input_shape, args)
    else:
        x = np.random.default_rng(args.seed).standard_normal((batch, *model.input_shape))
        x = x.astype(np.float32)
    network = build(model, args)
    start = time.perf_counter()
    y = network(x)
    elapsed = time.perf_counter() - start
    if len(names) > 1:  # several outputs (`output a, b`): each printed, or saved in one .npz
        return _several_outputs(model, args, source_name(args, x), dict(zip(names, y)), elapsed)
    if args.output:
        save_output(Path(args.output), y, args.force)
    if args.top:
        print_top(y, args.top, model, read_labels(args.labels) if args.labels else None)
    elif not args.output:
        print_output(y)
    source = source_name(args, x)
    print(f"{model.name} on {source}: output {tuple(y.shape)} in {elapsed * 1000:.1f} ms ({args.backend})")
    if args.output:
        print(f"wrote {args.output}")
    return 0


def source_name(args: argparse.Namespace, x: Any) -> str:
    return args.input or f"random input x{x.shape[0]}"


def _several_outputs(model: Any, args: argparse.Namespace, source: str, outputs: dict, elapsed: float) -> int:
    if args.output:
        save_output(Path(args.output), outputs, args.force)
    else:
        for name, y in outputs.items():
            print(f"{name}:")
            print_output(y)
    shapes = ", ".join(f"{name} {tuple(y.shape)}" for name, y in outputs.items())
    print(f"{model.name} on {source}: outputs {shapes} in {elapsed * 1000:.1f} ms ({args.backend})")
    if args.output:
        print(f"wrote {args.output}")
    return 0


def build(model: Any, args: argparse.Namespace) -> Any:
    """The chosen backend's network, weights loaded, as a function from a NumPy batch to a NumPy array."""
    from ..backends.numpy_engine.weights import checked_state, parameter_shapes, read_weights

    state = None
    if args.weights:
        shapes = parameter_shapes(model.graph)
        state = checked_state(shapes, read_weights(args.weights, shapes), args.weights)
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
            y = module(torch.from_numpy(x))
        return tuple(part.numpy() for part in y) if isinstance(y, tuple) else y.numpy()

    return run_module


def save_output(path: Path, y: Any, force: bool) -> None:
    """Write y as .npy atomically: readers never see half a file, and nothing is overwritten unasked."""
    import numpy as np

    from ..output_files import check_overwrite, write_through

    several = isinstance(y, dict)  # several outputs by name, kept together in one .npz
    if path.suffix.lower() != (".npz" if several else ".npy"):
        raise CnnUsageError(f"--output must name an .npy file, found '{path.name}'")
    check_overwrite(path, force, recognisable=False)  # an .npy file has no room for cnndsl's header

    def write(temporary: Path) -> None:
        with temporary.open("wb") as handle:  # a file handle: np.save would append .npy to a name
            if several:  # written entry by entry: np.savez(**y) breaks on an output named `file`
                with zipfile.ZipFile(handle, "w") as archive:
                    for name, array in y.items():
                        with archive.open(f"{name}.npy", "w") as entry:
                            np.lib.format.write_array(entry, np.asarray(array), allow_pickle=False)
            else:
                np.save(handle, y, allow_pickle=False)

    write_through(path, write)


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
