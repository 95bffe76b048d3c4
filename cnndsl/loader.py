"""Finding a .cnn file (a path or a built-in architecture name) and turning it into Models."""

from __future__ import annotations

import functools
import gc
import math
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from .arguments import ArgumentProblem, image_shape
from .elaborate import build_graph
from .errors import CnnError, CnnUsageError, DiagnosticSink
from .expressions import Symbol, did_you_mean
from .model import Model
from .name_check import check_blocks
from .passes import run_passes
from .program import Program, load_program
from .source import SourceFile

T = TypeVar("T")


def builtin_architectures() -> list[str]:
    folder = resources.files("cnndsl.architectures")
    return sorted(entry.name[:-4] for entry in folder.iterdir() if entry.name.endswith(".cnn"))


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("cnndsl.architectures").joinpath(f"{name}.cnn")))


def resolve_source(spec: str | Path) -> SourceFile:
    """A path to a .cnn file, or a built-in architecture (`vgg16` or `vgg16.cnn`).

    A file wins over a built-in of the same name: `vgg16` reads ./vgg16.cnn if there is one.
    """
    path = Path(spec)
    if not path.is_file() and path.suffix != ".cnn" and path.with_name(path.name + ".cnn").is_file():
        path = path.with_name(path.name + ".cnn")
    if path.is_file():
        try:
            return SourceFile.read(path, str(path))
        except OSError as error:
            raise CnnUsageError(f"cannot read {spec}: {error}") from None
    stem = path.name[:-4] if path.name.endswith(".cnn") else path.name
    if path.parent == Path(".") and stem in builtin_architectures():
        return SourceFile.read(builtin_path(stem), f"{stem}.cnn")
    if path.exists():
        raise CnnUsageError(f"{spec} is not a file")
    hint = did_you_mean(stem, builtin_architectures())
    raise CnnUsageError(f"no such file or built-in architecture: {spec}{hint}")


# Python refuses to convert longer digit strings to int (sys.get_int_max_str_digits()).
MAX_DIGITS = 4300


def parse_value(text: str) -> Any:
    """A --set value: an integer, a number, sizes like 3x32x32, or a bare word."""
    if len(text) > MAX_DIGITS:
        raise CnnUsageError(f"--set value of {len(text):,} characters is too long")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"\d+(x\d+)+", text):
        return tuple(int(part) for part in text.split("x"))
    try:
        number = float(text)
    except ValueError:
        if not text.isidentifier():
            raise CnnUsageError(
                f"--set expects a number, sizes such as 3x32x32 or a word such as same, found '{text}'"
            ) from None
        return Symbol(text)
    if not math.isfinite(number):
        raise CnnUsageError(f"--set expects a finite number, found '{text}'")
    return number


def parse_shape(text: str) -> tuple[int, ...]:
    """An --input shape: CxHxW or a flat size N, every size positive."""
    if len(text) > MAX_DIGITS or not re.fullmatch(r"\d+(x\d+)*", text):
        raise CnnUsageError(f"--input expects a shape such as 3x224x224, found '{text}'")
    shape = tuple(int(part) for part in text.split("x"))
    try:
        return image_shape(shape)
    except ArgumentProblem as problem:
        raise CnnUsageError(f"--input: {problem}") from None


def select_network(program: Program, name: str | None) -> Any:
    networks = program.networks
    names = [n.name for n in networks]
    if name is not None:
        for network in networks:
            if network.name == name:
                return network
        listing = ", ".join(names) if names else "none"
        raise CnnUsageError(
            f"{program.source.name} has no network '{name}'{did_you_mean(name, names)}; networks: {listing}"
        )
    if len(networks) == 1:
        return networks[0]
    if not networks:
        raise CnnUsageError(f"{program.source.name} defines no network (only blocks)")
    stem = Path(program.source.name).stem
    for network in networks:
        if network.name == stem:
            return network
    raise CnnUsageError(
        f"{program.source.name} defines several networks ({', '.join(names)}); choose one with --network"
    )


def _gc_paused(function: Callable[..., T]) -> Callable[..., T]:
    """Run `function` with Python's cyclic garbage collector paused, then restore it.

    A check allocates a syntax tree and a graph that stay alive while it runs; the collector's
    repeated passes over them made a 10,000-layer check 25% slower per layer than a 1,000-layer
    one (benchmarks/bench_check.py). Nothing here needs cycles collected before the check ends.
    """

    @functools.wraps(function)
    def paused(*args: Any, **kwargs: Any) -> T:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


@_gc_paused
def load(
    source: str | Path | SourceFile,
    network: str | None = None,
    input: tuple[int, ...] | str | None = None,  # noqa: A002 - the language's word
    **params: Any,
) -> Model:
    """Check a network and return its Model; keyword arguments override network parameters."""
    source_file = source if isinstance(source, SourceFile) else resolve_source(source)
    program = load_program(source_file)
    try:
        chosen = select_network(program, network)
    except CnnUsageError:
        # `network n` defined twice is the real problem, not that there seem to be two networks.
        if program.problems:
            raise CnnError(program.problems) from None
        raise
    input_shape = parse_shape(input) if isinstance(input, str) else input
    graph = build_graph(program, chosen, params, input_shape)
    return Model(run_passes(graph), program)


def loads(text: str, name: str = "<string>", **options: Any) -> Model:
    """`load` for source text held in a string."""
    return load(SourceFile(name, text), **options)


@_gc_paused
def check_all(source: SourceFile, overrides: dict[str, Any] | None = None, input_shape=None) -> list[Model]:
    """Check every network and block of a file, reporting all independent errors at once."""
    program = load_program(source)
    sink = DiagnosticSink()
    check_blocks(program, sink)
    models = []
    for network in program.networks:
        try:
            graph = build_graph(program, network, overrides, input_shape)
            models.append(Model(run_passes(graph), program))
        except CnnError as error:
            sink.add(error)
    sink.raise_if_any()
    return models
