"""Text to AST: the Lark parser (built once, lazily) and the transformer into syntax_tree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import PatternStr

from . import grammar_cache, number_arrays
from . import syntax_tree as st
from .array_lexer import ArrayApartContextualLexer
from .errors import CnnError, CnnSyntaxError, Diagnostic
from .input_limits import check_size
from .source import SourceFile, Span

# Words for the grammar's terminals, so Lark's names (RPAR, $END) never reach a user.
TERMINAL_WORDS = {
    "NAME": "a name",
    "CALL_NAME": "a block call",
    "INT": "an integer",
    "FLOAT": "a number",
    "DIMS": "sizes such as 3x3",
    "STRING": 'a quoted path such as "blocks.cnn"',
    "COMPARE": "a comparison such as ==",
    "ARRAY": "a list of numbers",
    "_NL": "a new line",
    "$END": "the end of the file",
}
EXPRESSION_STARTS = {"INT", "FLOAT", "DIMS", "NAME", "STRING", "LPAR", "LSQB", "MINUS", "NOT", "ARRAY"}
# Operators could continue almost any expression; listing them buries the useful expectations.
OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "__ANON_0", "COMPARE", "AND", "OR"}
MAX_SYNTAX_ERRORS = 20
# Lark resumes after each unexpected character or token; one error is reported per line, so a
# line of a million stray characters meant a million recoveries (17 s). Recoveries are capped too.
MAX_SYNTAX_RECOVERIES = 10 * MAX_SYNTAX_ERRORS
# Brackets and braces nested deeper than this are refused with a diagnostic: the transformer,
# the evaluator and the elaborator recurse once per level, and Python's stack is finite.
# Real networks nest fewer than ten levels; Python's own parser stops at 200 parentheses.
MAX_NESTING = 100
# What str.splitlines(), Python and many editors take for a line break, besides \n and \r\n.
OTHER_LINE_BREAKS = frozenset("\r\v\x1c\x1d\x1e\x85\u2028\u2029")
# Python refuses to convert longer digit strings to int (sys.get_int_max_str_digits()).
MAX_INTEGER_DIGITS = 4300


class _TooDeepError(Exception):
    """Raised by the postlexer at the bracket that goes past MAX_NESTING."""

    def __init__(self, token: Token):
        super().__init__(token)
        self.token = token


class _BracketNewlines:
    """Postlexer: a newline inside () or [] continues the statement instead of ending it.

    It also counts every open bracket and brace, to refuse absurd nesting before anything recurses.
    """

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0  # () and []: newlines inside continue the statement
        nesting = 0  # (), [] and {}
        for token in stream:
            if token.type in ("LPAR", "LSQB"):
                depth += 1
                nesting += 1
            elif token.type in ("RPAR", "RSQB"):
                depth = max(depth - 1, 0)
                nesting = max(nesting - 1, 0)
            elif token.type in ("LBRACE", "RBRACE"):
                nesting = max(nesting + (1 if token.type == "LBRACE" else -1), 0)
                # Braces never occur inside () or []: a bracket left open by mistake ends here, and
                # later newlines end statements again instead of being swallowed.
                depth = 0
            elif token.type == "_NL" and depth:
                continue
            if nesting > MAX_NESTING:
                raise _TooDeepError(token)
            yield token


# The settings every user of the grammar shares; `postlex` is given separately (an object).
GRAMMAR_OPTIONS: dict[str, Any] = {"parser": "lalr", "propagate_positions": True, "maybe_placeholders": False}


def open_grammar(**options: Any) -> Lark:
    """A Lark LALR parser for grammars/cnn.lark; `options` add to (or override) the shared settings."""
    return Lark.open_from_package(
        "cnndsl.grammars", "cnn.lark", **{**_live_options(), **GRAMMAR_OPTIONS, **options}
    )


def _live_options() -> dict[str, Any]:
    """The options that are objects, given both when building and when loading from the cache."""
    return {"postlex": _BracketNewlines(), "_plugins": {"ContextualLexer": ArrayApartContextualLexer}}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("cnndsl.grammars").joinpath("cnn.lark").read_text(encoding="utf-8")
    key = grammar_cache.cache_key(grammar, {**GRAMMAR_OPTIONS, **_live_options()})
    return grammar_cache.load_or_build(open_grammar, key, **_live_options())


def _describe_terminal(parser: Lark, name: str) -> str:
    if name in TERMINAL_WORDS:
        return TERMINAL_WORDS[name]
    try:
        pattern = parser.get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if isinstance(pattern, PatternStr):
        return f"'{pattern.value}'"
    return name.lower()


def _describe_expected(parser: Lark, expected: set[str]) -> str:
    words: list[str] = []
    if expected - OPERATORS - EXPRESSION_STARTS:
        expected = {name for name in expected if name not in OPERATORS or name in EXPRESSION_STARTS}
    if EXPRESSION_STARTS & expected and len(EXPRESSION_STARTS & expected) >= 4:
        words.append("an expression")
        expected = expected - EXPRESSION_STARTS
    words.extend(sorted({_describe_terminal(parser, name) for name in expected}))
    if len(words) > 1:
        return ", ".join(words[:-1]) + " or " + words[-1]
    return words[0] if words else "nothing more"


def _describe_found(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    if token.type == "_NL":
        return "the end of the line"
    return f"'{token.value}'"


def _syntax_diagnostic(parser: Lark, source: SourceFile, error: UnexpectedInput) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        char = source.text[error.pos_in_stream] if error.pos_in_stream < len(source.text) else ""
        span = Span(source, error.pos_in_stream, error.pos_in_stream + 1)
        if char in OTHER_LINE_BREAKS:
            message = (
                f"unexpected line break {char!r}: only \\n and \\r\\n end a line in a .cnn file "
                "(an editor may show a new line here)"
            )
            return Diagnostic(message, span)
        return Diagnostic(f"unexpected character {char!r}", span)
    if isinstance(error, UnexpectedToken):
        token = error.token
        start = token.start_pos if token.start_pos is not None else len(source.text)
        end = max(start + 1, token.end_pos or start)
        if token.type == "_NL":
            end = start + 1
        expected = _describe_expected(parser, set(error.accepts or error.expected))
        message = f"expected {expected}, found {_describe_found(token)}"
        return Diagnostic(message, Span(source, start, min(end, max(len(source.text), start + 1))))
    if isinstance(error, UnexpectedEOF):
        position = len(source.text)
        expected = _describe_expected(parser, set(error.expected))
        return Diagnostic(f"expected {expected}, found the end of the file", Span(source, position, position))
    return Diagnostic(str(error), Span(source, 0, 0))


def _span(source: SourceFile, meta_or_token: Any) -> Span:
    if isinstance(meta_or_token, Token):
        return Span(source, meta_or_token.start_pos, meta_or_token.end_pos)
    if getattr(meta_or_token, "empty", False):
        return Span(source, 0, 0)
    return Span(source, meta_or_token.start_pos, meta_or_token.end_pos)


@v_args(meta=True)
class _ToSyntaxTree(Transformer):
    """Lark tree -> syntax_tree dataclasses, keeping every span."""

    def __init__(self, source: SourceFile):
        super().__init__()
        self.source = source

    def _s(self, meta: Any) -> Span:
        return _span(self.source, meta)

    # expressions
    def _int(self, digits: str, meta) -> int:
        if len(digits) > MAX_INTEGER_DIGITS:
            raise CnnSyntaxError(f"an integer of {len(digits):,} digits is too long to read", self._s(meta))
        return int(digits)

    def integer(self, meta, children):
        return st.Number(self._int(str(children[0]), meta), self._s(meta))

    def real(self, meta, children):
        return st.Number(float(children[0]), self._s(meta))

    def dims(self, meta, children):
        return st.Dims(tuple(self._int(part, meta) for part in children[0].split("x")), self._s(meta))

    def name(self, meta, children):
        return st.Name(str(children[0]), self._s(meta))

    def string(self, meta, children):
        return st.String(str(children[0])[1:-1], self._s(meta))

    def _binary(operator):  # noqa: N805 - a factory used in the class body
        def method(self, meta, children):
            return st.BinaryOp(operator, children[0], children[1], self._s(meta))

        return method

    add = _binary("+")
    subtract = _binary("-")
    multiply = _binary("*")
    floordiv = _binary("//")
    divide = _binary("/")
    modulo = _binary("%")

    def compare(self, meta, children):
        left, operator, right = children
        return st.Compare(str(operator), left, right, self._s(meta))

    def either(self, meta, children):
        return st.Logical("or", children[0], children[1], self._s(meta))

    def both(self, meta, children):
        return st.Logical("and", children[0], children[1], self._s(meta))

    def invert(self, meta, children):
        return st.Not(children[0], self._s(meta))

    def negate(self, meta, children):
        return st.Negate(children[0], self._s(meta))

    def tuple(self, meta, children):
        return st.TupleExpr(tuple(children), self._s(meta))

    def list(self, meta, children):
        return st.ListExpr(tuple(children), self._s(meta))

    def array(self, meta, children):
        token = children[0]
        value = number_arrays.read(str(token))
        if value is not None:
            return st.NumberArray(value, self._s(meta))
        return self._array_nodes(token)

    def _array_nodes(self, token: Token) -> st.ListExpr:
        """The ListExpr Lark's `list` rule would have built: a located node per number."""
        stack: list[tuple[int, list[st.Expr]]] = []
        done: st.ListExpr | None = None
        for piece in number_arrays.PIECE.finditer(str(token)):
            start, end = token.start_pos + piece.start(), token.start_pos + piece.end()
            text = piece.group()
            if text == "[":
                stack.append((start, []))
            elif text == "]":
                opened, items = stack.pop()
                done = st.ListExpr(tuple(items), Span(self.source, opened, end))
                if stack:
                    stack[-1][1].append(done)
            elif text != ",":
                stack[-1][1].append(self._signed_number(text, start, end))
        assert done is not None
        return done

    def _signed_number(self, text: str, start: int, end: int) -> st.Expr:
        digits = text.lstrip("-")
        where = Span(self.source, end - len(digits), end)
        if any(mark in digits for mark in ".eE"):
            number = st.Number(float(digits), where)
        elif len(digits) > MAX_INTEGER_DIGITS:
            raise CnnSyntaxError(f"an integer of {len(digits):,} digits is too long to read", where)
        else:
            number = st.Number(int(digits), where)
        return st.Negate(number, Span(self.source, start, end)) if text.startswith("-") else number

    # arguments and statements
    def keyword(self, meta, children):
        name, value = children
        return st.Argument(value, self._s(meta), str(name), _span(self.source, name))

    def _arguments(self, items) -> tuple[st.Argument, ...]:
        return tuple(
            item if isinstance(item, st.Argument) else st.Argument(item, item.span) for item in items
        )

    def layer(self, meta, children):
        kind = children[0]
        return st.Layer(str(kind), self._arguments(children[1:]), self._s(meta), _span(self.source, kind))

    def call_arguments(self, meta, children):
        return self._arguments(children)

    def repetitions(self, meta, children):
        return ("repetitions", children[0])

    def call(self, meta, children):
        name, arguments, *rest = children
        times = rest[0][1] if rest else None
        return st.Call(str(name), arguments, self._s(meta), _span(self.source, name), times)

    def repeat(self, meta, children):
        times, body = children
        return st.Repeat(times, body, self._s(meta))

    def residual(self, meta, children):
        condition = None
        if isinstance(children[0], _Condition):
            condition, children = children[0].expr, children[1:]
        shortcut = children[1] if len(children) > 1 else None
        return st.Residual(children[0], shortcut, self._s(meta), condition=condition)

    def residual_condition(self, meta, children):
        return _Condition(children[0])

    def if_stmt(self, meta, children):
        condition, body, *rest = children
        branches = [(condition, body)]
        otherwise = None
        for part in rest:
            if isinstance(part, _Otherwise):
                otherwise = part.body
            else:
                branches.append(part)
        return st.If(tuple(branches), otherwise, self._s(meta))

    def else_if(self, meta, children):
        return (children[0], children[1])

    def else_body(self, meta, children):
        return _Otherwise(children[0])

    def gate(self, meta, children):
        return st.Gate(children[0], self._s(meta))

    def sum_block(self, meta, children):
        return st.Sum(tuple(children), self._s(meta))

    def branch(self, meta, children):
        return st.Branch(children[0], self._s(meta))

    def branch_from(self, meta, children):
        name, body = children
        return st.Branch(body, self._s(meta), st.Name(str(name), _span(self.source, name)))

    def start_from(self, meta, children):
        name = children[0]
        return st.StartFrom(st.Name(str(name), _span(self.source, name)), self._s(meta))

    def outputs(self, meta, children):
        names = tuple(st.Name(str(name), _span(self.source, name)) for name in children)
        return st.Outputs(names, self._s(meta))

    def concat(self, meta, children):
        return st.Concat(tuple(children), self._s(meta))

    def labelled(self, meta, children):
        label, statement = children
        return _with_label(statement, str(label), _span(self.source, label))

    def body(self, meta, children):
        return tuple(children)

    # definitions
    def param(self, meta, children):
        default = children[1] if len(children) > 1 else None
        return st.Parameter(str(children[0]), default, self._s(meta))

    def param_list(self, meta, children):
        return tuple(children)

    def _definition(self, kind: str, meta, children):
        name = children[0]
        parameters = children[1] if len(children) == 3 else ()
        body = children[-1]
        return st.Definition(kind, str(name), parameters, body, self._s(meta), _span(self.source, name))

    def network(self, meta, children):
        return self._definition("network", meta, children)

    def block(self, meta, children):
        return self._definition("block", meta, children)

    def import_stmt(self, meta, children):
        return st.Import(str(children[0])[1:-1], self._s(meta))

    def start(self, meta, children):
        imports = tuple(c for c in children if isinstance(c, st.Import))
        definitions = tuple(c for c in children if isinstance(c, st.Definition))
        return st.Module(imports, definitions, Span(self.source, 0, len(self.source.text)))


@dataclass(frozen=True)
class _Condition:
    """A residual's `if COND`, passed up to the residual rule."""

    expr: st.Expr


@dataclass(frozen=True)
class _Otherwise:
    """An if statement's `else { ... }` body, passed up to the if rule."""

    body: tuple[st.Statement, ...]


def _with_label(statement: st.Statement, label: str, span: Span) -> st.Statement:
    return replace(statement, label=label, label_span=span)


def _close_brackets(interactive: Any, token: Token, source: SourceFile) -> None:
    """Recover from a bracket left open: close it, so that one slip makes one error.

    A token that starts its line, met inside () or [], means a bracket above was never closed
    (the newline was taken for a continuation): close the brackets and feed the token again.
    A `}` elsewhere is taken for a mistyped `)` and dropped once the brackets are closed.
    """
    line_start = source.text.rfind("\n", 0, token.start_pos) + 1
    starts_line = not source.text[line_start : token.start_pos].strip()
    if not (starts_line or token.type == "RBRACE"):
        return
    closed = False
    for _ in range(MAX_NESTING):
        accepts = interactive.accepts()
        closer = "RPAR" if "RPAR" in accepts else "RSQB" if "RSQB" in accepts else None
        if closer is None:
            break
        interactive.feed_token(Token(closer, ")" if closer == "RPAR" else "]"))
        closed = True
    if closed and starts_line and token.type in interactive.accepts():
        interactive.feed_token(token)


def parse(source: SourceFile) -> st.Module:
    """Parse one file into its syntax tree, or raise CnnSyntaxError listing what was wrong."""
    check_size(source)
    parser = _lark()
    diagnostics: list[Diagnostic] = []
    reported_lines: set[int] = set()
    recoveries = 0

    def recover(error: UnexpectedInput) -> bool:
        nonlocal recoveries
        recoveries += 1
        # Report one error per line and resume at the next token: independent mistakes on
        # later lines are reported together instead of one per run.
        token = getattr(error, "token", None)
        at_end = token is not None and token.type == "$END"
        diagnostic = _syntax_diagnostic(parser, source, error)
        line = diagnostic.span.line if diagnostic.span else 0
        if line not in reported_lines and not (at_end and diagnostics):
            reported_lines.add(line)
            diagnostics.append(diagnostic)
            if isinstance(error, UnexpectedToken) and not at_end:
                _close_brackets(error.interactive_parser, token, source)
        # Lark skips the unexpected character or token and goes on; at the end there is nothing to skip.
        return len(diagnostics) < MAX_SYNTAX_ERRORS and recoveries < MAX_SYNTAX_RECOVERIES and not at_end

    try:
        tree = parser.parse(source.text, on_error=recover)
    except UnexpectedInput as error:
        diagnostic = _syntax_diagnostic(parser, source, error)
        if not diagnostics:
            diagnostics.append(diagnostic)
        raise CnnSyntaxError(diagnostics) from None
    except _TooDeepError as error:
        token = error.token
        message = f"brackets and braces nest more than {MAX_NESTING} levels deep here"
        diagnostics.append(Diagnostic(message, Span(source, token.start_pos, token.end_pos)))
        raise CnnSyntaxError(diagnostics) from None
    if diagnostics:
        raise CnnSyntaxError(diagnostics)
    try:
        return _ToSyntaxTree(source).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, CnnError):
            raise error.orig_exc from None
        if isinstance(error.orig_exc, RecursionError):
            raise _too_deep_error(source, tree) from None
        raise
    except RecursionError:
        raise _too_deep_error(source, tree) from None


def _too_deep_error(source: SourceFile, tree: Tree) -> CnnSyntaxError:
    """A diagnostic at the most deeply nested spot, e.g. a sum of thousands of terms.

    Brackets are limited by MAX_NESTING, but operator chains (`1+1+...`, `- - - 1`) nest
    without brackets; the tree is walked without recursion to find where.
    """
    deepest, deepest_level = tree, 0
    stack = [(tree, 0)]
    while stack:
        node, level = stack.pop()
        if level > deepest_level and not node.meta.empty:
            deepest, deepest_level = node, level
        stack.extend((child, level + 1) for child in node.children if isinstance(child, Tree))
    return CnnSyntaxError(
        f"too deeply nested to check ({deepest_level:,} levels of operators and blocks); "
        "split it into smaller parts",
        _span(source, deepest.meta),
    )
