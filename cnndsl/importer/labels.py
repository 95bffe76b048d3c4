"""Names from the source: blocks after classes or modules, labels after module names, kept unique."""

from __future__ import annotations

import keyword
import re

from .plan import Block, calls
from .structure import Scope


def snake(name: str) -> str:
    """`BasicBlock` -> `basic_block`; a name that cannot start an identifier gets `block_`."""
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name.lstrip("_")).lower()
    name = re.sub(r"\W+", "_", name).strip("_")
    return name if name and name[0].isalpha() else f"block_{name}"


def label(path: str, siblings: list[str]) -> str | None:
    """The module's own name as a call's label, where it is an identifier unique among its siblings."""
    name = path.rsplit(".", 1)[-1]
    if name.isidentifier() and name.isascii() and not keyword.iskeyword(name) and siblings.count(name) == 1:
        return name
    return None


def block_name(scope: Scope, blocks: dict[tuple, Block]) -> str:
    """The scope's class (or, for a `Sequential`, its module name) in snake case, not yet taken."""
    from ..ops import OPS

    base = snake(scope.class_name) if scope.class_name and scope.class_name != "Sequential" else ""
    if not base:
        base = snake(re.sub(r"\d+$", "", scope.path.rsplit(".", 1)[-1]) or "stage")
    # An op's or a keyword's name would read as that statement, not a call.
    if base in OPS or keyword.iskeyword(base) or base in ("network", "block", "input", "output"):
        base = f"{base}_block"
    taken = {block.name for block in blocks.values()}
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


# Names the compiler numbers on its own besides op kinds and block names (`branch1`, `add1`).
_SCOPE_WORDS = {"add", "concat", "mul", "branch", "shortcut", "residual", "sum", "gate", "repeat"}


def settle_labels(items: list, blocks: dict[tuple, Block]) -> None:
    """Drops labels used twice in one body, or that an unlabelled statement's own name may take.

    Inlining a scope brings its calls' labels into its parent (DenseNet's `features` inlined
    keeps `denseblock1` to `denseblock4`), where they must be unique. The statements nested in
    merges are counted with the body's, which holds for residual bodies and is safe for the rest.
    """
    from ..ops import OPS

    found = calls(items)
    labels = [call.label for call in found if call.label]
    bases = set(_SCOPE_WORDS) | set(OPS) | {blocks[call.block].name for call in found if not call.label}
    for call in found:
        numbered = re.fullmatch(r"(.*?)\d+", call.label or "")
        if labels.count(call.label) > 1 or (numbered and numbered.group(1) in bases):
            call.label = None
