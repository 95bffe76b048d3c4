"""Finding a .cnn file (a path or a built-in architecture name) and turning it into Models."""

from __future__ import annotations

import functools
import gc
import math
import os
import re
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from .arguments import ArgumentProblem, image_shape
from .elaborate import build_graph
from .errors import CnnError, CnnUsageError, DiagnosticSink
from .expressions import Symbol, describe_value, did_you_mean, from_python
from .model import Model
from .name_check import check_blocks
from .passes import run_passes
from .program import Program, load_program
from .source import NotSourceFileError, SourceFile, SourceTooLargeError, describe_os_error, shown_name

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
    if not isinstance(spec, (str, os.PathLike)) or not isinstance(os.fspath(spec), str):
        raise CnnUsageError(
            f"expected a .cnn file or a built-in architecture name, found {type(spec).__name__} {spec!r:.40}"
        )
    shown = shown_name(os.fspath(spec))
    if not os.fspath(spec):
        raise CnnUsageError("expected a .cnn file or a built-in architecture name, found an empty name")
    if "\0" in os.fspath(spec):
        raise CnnUsageError(f"a file name cannot contain a NUL character: {shown}")
    path = Path(spec)
    candidates = [path]
    if path.name and path.suffix != ".cnn":
        candidates.append(path.with_name(path.name + ".cnn"))
    refused: NotSourceFileError | None = None
    for candidate in candidates:
        try:
            return SourceFile.read(candidate, str(candidate))
        except SourceTooLargeError as error:
            raise CnnError(f"{shown}: {error}") from None
        except NotSourceFileError as error:  # a folder named like a built-in does not hide it
            refused = refused or error
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as error:
            raise CnnUsageError(f"cannot read {shown}: {describe_os_error(error)}") from None
    stem = path.name[:-4] if path.name.endswith(".cnn") else path.name
    if path.parent == Path(".") and stem in builtin_architectures():
        return SourceFile.read(builtin_path(stem), f"{stem}.cnn")
    if refused is not None:
        raise CnnUsageError(f"cannot read {shown}: {refused}")
    hint = did_you_mean(stem, builtin_architectures())
    raise CnnUsageError(f"no such file or built-in architecture: {shown}{hint}")


# Python refuses to convert longer digit strings to int (sys.get_int_max_str_digits()).
MAX_DIGITS = 4300
# ASCII digits only: Python's \d, int() and float() also take other scripts' digits and `1_000`.
_INTEGER = re.compile(r"-?[0-9]+")
_SIZES = re.compile(r"[0-9]+(?:x[0-9]+)+")
_REAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_value(text: str) -> Any:
    """A --set value: an integer, a number, sizes like 3x32x32, or a bare word."""
    if len(text) > MAX_DIGITS:
        raise CnnUsageError(f"--set value of {len(text):,} characters is too long")
    if _INTEGER.fullmatch(text):
        value: Any = int(text)
    elif _SIZES.fullmatch(text):
        value = tuple(int(part) for part in text.split("x"))
    elif _REAL.fullmatch(text):
        value = float(text)
        if not math.isfinite(value):
            raise CnnUsageError(f"--set expects a finite number, found '{text}'")
    elif _WORD.fullmatch(text):
        value = Symbol(text)
    else:
        raise CnnUsageError(
            f"--set expects a number, sizes such as 3x32x32 or a word such as same, found '{text}'"
        )
    try:
        return from_python(value)
    except ValueError as problem:
        raise CnnUsageError(f"--set: {problem}") from None


def parse_shape(text: str) -> tuple[int, ...]:
    """An --input shape: CxHxW or a flat size N, every size positive."""
    if len(text) > MAX_DIGITS or not re.fullmatch(r"[0-9]+(?:x[0-9]+)*", text):
        shown = text if len(text) <= 60 else f"{text[:40]}... ({len(text):,} characters)"
        raise CnnUsageError(f"--input expects a shape such as 3x224x224, found '{shown}'")
    shape = tuple(int(part) for part in text.split("x"))
    try:
        return image_shape(shape)
    except ArgumentProblem as problem:
        raise CnnUsageError(f"--input: {problem}") from None


def python_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """`load`'s keyword arguments as the language's values; a usage error names a bad one."""
    values = {}
    for name, value in params.items():
        try:
            values[name] = from_python(value)
        except (ValueError, RecursionError) as problem:
            raise CnnUsageError(f"parameter {name}: {problem}") from None
    return values


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


class _CollectorPause:
    """Process-wide bookkeeping for pausing the garbage collector, which is itself process-wide.

    Checks running in several threads overlap: the collector is off from the start of the first
    to the end of the last, and then back on only if it was on before the first began.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0  # checks in progress, in all threads
        self.was_enabled = False

    def __enter__(self) -> None:
        with self.lock:
            if self.running == 0:
                self.was_enabled = gc.isenabled()
                gc.disable()
            self.running += 1

    def __exit__(self, *exc_info: object) -> None:
        with self.lock:
            self.running -= 1
            if self.running == 0 and self.was_enabled:
                gc.enable()


_COLLECTOR_PAUSE = _CollectorPause()


def _gc_paused(function: Callable[..., T]) -> Callable[..., T]:
    """Run `function` with Python's cyclic garbage collector paused, then restore it.

    A check allocates a syntax tree and a graph that stay alive while it runs; the collector's
    repeated passes over them made a 10,000-layer check 25% slower per layer than a 1,000-layer
    one (benchmarks/bench_check.py). Nothing here needs cycles collected before the check ends.
    """

    @functools.wraps(function)
    def paused(*args: Any, **kwargs: Any) -> T:
        with _COLLECTOR_PAUSE:
            return function(*args, **kwargs)

    return paused


@_gc_paused
def load(
    source: str | Path | SourceFile,
    /,
    network: str | None = None,
    input: tuple[int, ...] | str | None = None,  # noqa: A002 - the language's word
    *,
    overrides: dict[str, Any] | None = None,
    **params: Any,
) -> Model:
    """Check a network and return its Model; keyword arguments override network parameters.

    `overrides` holds values already in the language's terms (the command line's --set), and
    reaches parameters whose names a keyword can't (`network`, `input`, `overrides`).
    """
    if network is not None and not isinstance(network, str):
        raise CnnUsageError(f"network must be a network's name, found {describe_value(network)}")
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
    values = {**(overrides or {}), **python_parameters(params)}
    graph = build_graph(program, chosen, values, input_shape)
    return Model(run_passes(graph), program)


def loads(text: str, /, name: str = "<string>", **options: Any) -> Model:
    """`load` for source text held in a string."""
    return load(SourceFile(name, text), **options)


@_gc_paused
def check_all(
    source: SourceFile, overrides: dict[str, Any] | None = None, input_shape=None, network: str | None = None
) -> list[Model]:
    """Check every network (or only `network`) and block of a file, reporting all errors at once."""
    program = load_program(source)
    sink = DiagnosticSink()
    check_blocks(program, sink)
    networks = program.networks if network is None else [select_network(program, network)]
    models = []
    for network in networks:
        try:
            graph = build_graph(program, network, overrides, input_shape)
            models.append(Model(run_passes(graph), program))
        except CnnError as error:
            sink.add(error)
    sink.raise_if_any()
    return models
