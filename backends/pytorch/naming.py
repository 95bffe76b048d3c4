"""Names in the generated module: the class name, attribute paths from node ids, clashes."""

from __future__ import annotations

import keyword
import re

from cnndsl.errors import CnnNameError
from cnndsl.source import Span

from ..python_text import string_literal
from .helpers import HELPERS

# Class attributes the generated class defines besides its submodules.
CLASS_ATTRIBUTES = ("input_shape", "output_activation", "dropped_head")


def class_name(network: str) -> str:
    """`resnet50` -> `Resnet50`, `alexnet_original` -> `AlexnetOriginal` (PEP 8 CapWords).

    An underscore between two digits stays, so that digit groups keep apart:
    `resnext50_32x4d` -> `Resnext50_32x4d`, not `Resnext5032x4d`.
    """
    parts = [part[:1].upper() + part[1:] for part in network.split("_") if part]
    name = "".join(
        ("_" if index and parts[index - 1][-1].isdigit() and part[0].isdigit() else "") + part
        for index, part in enumerate(parts)
    )
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        return "Network"
    if name in HELPERS:  # the generated file may define a helper class of that name
        return f"{name}Network"
    return name


def constant_name(node_id: str, what: str) -> str:
    """A module-level constant holding a node's literal values: `LAYER1_CONV1_WEIGHT`."""
    return re.sub(r"\W", "_", f"{node_id}_{what}").upper()


def attribute_path(root: str, node_id: str) -> str:
    """Code reaching the submodule for `node_id`: `self.layer1.conv1`.

    A .cnn name may be a Python keyword (`class: conv 64 3x3`); `getattr` reaches it, as it
    does any part that is not a plain identifier.
    """
    code = root
    for part in node_id.split("."):
        code = f"{code}.{part}" if is_plain_name(part) else f"getattr({code}, {string_literal(part)})"
    return code


def is_plain_name(name: str) -> bool:
    """Whether `name` can be written as is in generated code: an ASCII identifier, no keyword.

    ASCII because Python folds other identifiers (NFKC): `ﬁ` would name the attribute `fi`.
    """
    return name.isidentifier() and name.isascii() and not keyword.iskeyword(name)


def owner_and_name(root: str, node_id: str) -> tuple[str, str]:
    """The code for a node's parent container and the node's own last name part."""
    parent, _, last = node_id.rpartition(".")
    return (attribute_path(root, parent) if parent else root), last


def reserved_names() -> frozenset[str]:
    """Names a submodule cannot take: torch.nn.Module's own attributes, and ours."""
    from torch import nn

    return frozenset(dir(nn.Module())) | frozenset(CLASS_ATTRIBUTES)


def check_names(node_ids: dict[str, Span], reserved: frozenset[str]) -> None:
    """Refuse a node id whose parts would shadow nn.Module attributes (`eval`, `to`, `training`)."""
    for node_id, span in node_ids.items():
        for part in node_id.split("."):
            if part in reserved or part.startswith("__"):
                where = f" (in '{node_id}')" if part != node_id else ""
                raise CnnNameError(
                    f"the name '{part}'{where} cannot name a PyTorch submodule: "
                    f"torch.nn.Module already has an attribute '{part}'; choose another name",
                    span,
                )
