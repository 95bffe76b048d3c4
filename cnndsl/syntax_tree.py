"""The abstract syntax tree: frozen dataclasses that keep their source spans."""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span


# ----- expressions -------------------------------------------------------------------------
@dataclass(frozen=True)
class Number:
    value: int | float
    span: Span


@dataclass(frozen=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True)
class String:
    value: str
    span: Span


@dataclass(frozen=True)
class Dims:
    """`3x3` or `1x32x32`: a literal tuple of sizes."""

    values: tuple[int, ...]
    span: Span


@dataclass(frozen=True)
class BinaryOp:
    operator: str  # one of + - * // / %
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Negate:
    operand: Expr
    span: Span


@dataclass(frozen=True)
class TupleExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Compare:
    """`stride == 1`: a comparison, true or false."""

    operator: str  # one of == != < <= > >=
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Logical:
    """`a and b`, `a or b` over truth values (the right side is read only when needed)."""

    operator: str  # "and" or "or"
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span



@dataclass(frozen=True)
class NumberArray:
    """`[[1, 0, -1], [1, 0, -1]]` read in one piece: its value, nested lists of numbers.

    Only arrays whose every number reads exactly become one (others are ListExprs of located
    Numbers), so evaluating it cannot fail; two nodes with one span hold the same value.
    """

    value: list = field(compare=False)
    span: Span


Expr = Number | Name | String | Dims | BinaryOp | Negate | TupleExpr | ListExpr | NumberArray
Expr = Expr | Compare | Logical | Not


# ----- statements --------------------------------------------------------------------------
@dataclass(frozen=True)
class Argument:
    """A positional (`keyword is None`) or keyword argument."""

    value: Expr
    span: Span
    keyword: str | None = None
    keyword_span: Span | None = None


@dataclass(frozen=True)
class Layer:
    """`conv 64 3x3 pad=1`, or a bare name that may turn out to be a block call."""

    kind: str
    arguments: tuple[Argument, ...]
    span: Span
    kind_span: Span
    label: str | None = None
    label_span: Span | None = None  # where `label:` was written


@dataclass(frozen=True)
class Call:
    """`bottleneck(64, stride=2) * 3`: a block call, optionally repeated."""

    block: str
    arguments: tuple[Argument, ...]
    span: Span
    name_span: Span
    times: Expr | None = None
    label: str | None = None
    label_span: Span | None = None  # where `label:` was written


@dataclass(frozen=True)
class Repeat:
    times: Expr
    body: tuple[Statement, ...]
    span: Span
    label: str | None = None
    label_span: Span | None = None  # where `label:` was written


@dataclass(frozen=True)
class Residual:
    body: tuple[Statement, ...]
    shortcut: tuple[Statement, ...] | None
    span: Span
    label: str | None = None
    label_span: Span | None = None  # where `label:` was written
    condition: Expr | None = None  # `residual if COND { ... }`: the skip only when COND holds


@dataclass(frozen=True)
class Branch:
    body: tuple[Statement, ...]
    span: Span
    source: Name | None = None  # `branch from enc4 { ... }` starts from a named value


@dataclass(frozen=True)
class Concat:
    branches: tuple[Branch, ...]
    span: Span
    label: str | None = None
    label_span: Span | None = None  # where `label:` was written


@dataclass(frozen=True)
class If:
    """`if A { ... } else if B { ... } else { ... }`: the first body whose condition holds."""

    branches: tuple[tuple[Expr, tuple[Statement, ...]], ...]
    otherwise: tuple[Statement, ...] | None
    span: Span
    label: None = None  # never labelled; here so every statement has the attribute
    label_span: None = None


@dataclass(frozen=True)
class Gate:
    """`gate { ... }`: the input times what the body computes from it (broadcast)."""

    body: tuple[Statement, ...]
    span: Span
    label: str | None = None
    label_span: Span | None = None  # where `label:` was written


@dataclass(frozen=True)
class Sum:
    """`sum { branch { ... } ... }`: the element-wise sum of the branches."""

    branches: tuple[Branch, ...]
    span: Span
    label: str | None = None
    label_span: Span | None = None  # where `label:` was written



@dataclass(frozen=True)
class StartFrom:
    """`from enc4`: the statements after it continue from the value named enc4."""

    source: Name
    span: Span
    label: None = None  # never labelled; here so every statement has the attribute
    label_span: None = None


@dataclass(frozen=True)
class Outputs:
    """`output logits, aux`: the network's outputs, in the order the caller receives them."""

    names: tuple[Name, ...]
    span: Span
    label: None = None
    label_span: None = None


Statement = Layer | Call | Repeat | Residual | Concat | If | Gate | Sum | StartFrom | Outputs


# ----- definitions -------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class Definition:
    """A `network` or a `block`: a name, parameters with defaults, and a body."""

    kind: str  # "network" or "block"
    name: str
    parameters: tuple[Parameter, ...]
    body: tuple[Statement, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True)
class Module:
    """One parsed .cnn file."""

    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]
    span: Span
