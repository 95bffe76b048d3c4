"""`cnndsl fmt`'s engine: one canonical layout for .cnn source that keeps every comment.

The layout, in short (docs/language.md has the full list): 4-space indentation; one statement
per line, except that simple statements the author joined with `;` stay joined (`conv 64 3x3;
relu` reads as one step); network and block bodies and `concat` always span lines, other
`{ ... }` bodies stay on one line when written on one line; single spaces between arguments;
no spaces around `=`; operators spaced inside brackets and unspaced in layer arguments, where a
space separates arguments; line breaks inside brackets kept, continuation lines aligned;
trailing comments on consecutive lines aligned; at most one empty line in a row.

The printer only re-spaces the source's own tokens, and the result is re-parsed and compared
with the input before anyone sees it, so formatting never changes what a file means.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import zip_longest

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from . import number_arrays
from .errors import CnnError
from .format_layout import INDENT, Blank, Comment, LayoutWriter
from .parser import open_grammar, parse
from .source import SourceFile

_BINARY_RULES = frozenset({"add", "subtract", "multiply", "floordiv", "divide", "modulo"})
_SIMPLE_STATEMENTS = frozenset({"layer", "call", "start_from", "outputs"})
_BRANCHING = frozenset({"concat", "sum_block"})  # always one branch per line
_DEFINITIONS = frozenset({"network", "block"})
_OPENERS = frozenset({"(", "["})
_CLOSERS = frozenset({")", "]"})
_NO_SPACE_BEFORE = frozenset({",", ";", ":", ")", "]", "="})
_BACKSLASH_NEWLINE = re.compile(r"\\[\t \f]*\r?\n")
# Arrays of numbers wrap their rows here; only they are wrapped (fmt keeps other line breaks).
ARRAY_LINE_LENGTH = 100
_ARRAY_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _layout_parser() -> Lark:
    # The same grammar as parser.py, but keeping every token (parentheses, `;`, newlines). Built
    # once and shared: a Lark parser keeps no state between parses, so threads may share it.
    # The printer reads positions from tokens only; rule positions would cost 60% more time.
    return open_grammar(keep_all_tokens=True, propagate_positions=False)


@lru_cache(maxsize=1)
def _comment_pattern() -> re.Pattern[str]:
    # The grammar's own COMMENT terminal, so that this finds exactly what the lexer ignored.
    return re.compile(_layout_parser().get_terminal("COMMENT").pattern.to_regexp())


# Tokens that only separate statements: the formatter may turn a `;` into a line break.
_SEPARATORS = frozenset({"_NL", "SEMICOLON"})


def _parse_with_comments(text: str) -> tuple[Tree, list[Comment]]:
    """The full parse tree and the comments the grammar ignores.

    Comments are found in the gaps between the tree's tokens (where only ignored text lies)
    rather than by a lexer callback, which would be one collector shared by every caller.
    """
    tree = _layout_parser().parse(text)
    pattern = _comment_pattern()
    comments: list[Comment] = []
    line, counted = 1, 0  # Lark's line numbers count "\n" only
    gap_start = 0
    for token in [*_tokens_in_order(tree), None]:
        gap_end = len(text) if token is None else token.start_pos
        if "#" in text[gap_start:gap_end]:
            for match in pattern.finditer(text, gap_start, gap_end):
                line += text.count("\n", counted, match.start())
                counted = match.start()
                comments.append(Comment(match.start(), match.end(), line, match.group()))
        if token is not None:
            gap_start = token.end_pos
    return tree, comments


def _tokens_in_order(tree: Tree) -> Iterator[Token]:
    """Every token of `tree` in source order, without recursion (operator chains nest deeply)."""
    stack: list[Tree | Token] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Token):
            yield node
        else:
            stack.extend(reversed(node.children))


def _outline(tree: Tree) -> Iterator[tuple[str, str]]:
    """The tree as a flat sequence of rules and tokens, less the statement separators."""
    stack: list[Tree | Token | None] = [tree]
    while stack:
        node = stack.pop()
        if node is None:
            yield ("end", "")
        elif isinstance(node, Token):
            if node.type == "ARRAY":  # laid out in rows, an array of numbers keeps its meaning
                yield (node.type, _ARRAY_SPACE.sub("", str(node)).replace(",]", "]"))
            elif node.type not in _SEPARATORS:
                yield (node.type, str(node))
        else:
            yield ("rule", str(node.data))
            stack.append(None)
            stack.extend(reversed(node.children))


def format_text(text: str, name: str = "<string>") -> str:
    """The canonical layout of .cnn source; raises CnnSyntaxError if it does not parse."""
    source = SourceFile(name, text)
    parse(source)  # the usual diagnostics for a file with syntax errors
    tree, comments = _parse_with_comments(text)
    writer = LayoutWriter(text, comments)
    _Printer(writer, text).module(tree)
    formatted = writer.finish()
    _require_same_program(source, tree, comments, formatted)
    if "\r\n" in text:
        formatted = formatted.replace("\n", "\r\n")
    return formatted


def _require_same_program(source: SourceFile, tree: Tree, comments: list[Comment], formatted: str) -> None:
    """Guard against formatter bugs: same syntax tree, same comments, or refuse to answer.

    The two full parse trees are compared without their separators: a statement boundary
    written as `;` or as a line break is the same program, and the rules show the boundaries.
    """
    problem = None
    try:
        new_tree, new_comments = _parse_with_comments(formatted)
    except UnexpectedInput:
        problem = "the formatted text does not parse"
    else:
        if any(old != new for old, new in zip_longest(_outline(tree), _outline(new_tree))):
            problem = "the formatted text would mean something else"
        elif [c.text.rstrip() for c in comments] != [c.text for c in new_comments]:
            problem = "the formatted text would lose or change a comment"
    if problem:
        raise CnnError(
            f"internal formatter error in {source.name}: {problem}; the file is left as it is "
            "(please report this with the file)"
        )


class _Printer:
    """Walks the full parse tree and hands each token to the writer with its spacing."""

    def __init__(self, writer: LayoutWriter, text: str):
        self.writer = writer
        self.text = text
        self.indent = 0  # indentation of the statement being printed
        self.previous: Token | None = None
        self.previous_rule = ""
        self.in_arguments = False  # printing a layer's or call's arguments

    # ----- structure ----------------------------------------------------------------------
    def module(self, tree: Tree) -> None:
        previous: Tree | None = None
        for item in tree.children:
            if not isinstance(item, Tree):
                continue  # newlines between items
            if previous is not None:
                separate = previous.data in _DEFINITIONS or (
                    previous.data == "import_stmt" and item.data != "import_stmt"
                )
                self.writer.newline(0, Blank.FORCE if separate else Blank.KEEP)
            self.indent = 0
            self.walk(item)
            previous = item

    def walk(self, tree: Tree) -> None:
        if tree.data in _BRANCHING:
            self.concat(tree)
            return
        if tree.data in _SIMPLE_STATEMENTS:
            self.in_arguments = True  # until the statement ends: comparisons there are unspaced
        for child in tree.children:
            if isinstance(child, Token) and child.type == "ARRAY":
                self.array(child, tree.data)
            elif isinstance(child, Token):
                self.token(child, tree.data)
            elif child.data == "body":
                self.body(child, expand=tree.data in _DEFINITIONS)
            else:
                self.walk(child)
        if tree.data in _SIMPLE_STATEMENTS:
            self.in_arguments = False

    def body(self, tree: Tree, expand: bool) -> None:
        children = tree.children
        open_brace, close_brace = children[0], children[-1]
        statements = [child for child in children if isinstance(child, Tree)]
        self.writer.space()
        self.token(open_brace, "body")
        has_concat = any(subtree.data in _BRANCHING for subtree in tree.iter_subtrees())
        inline = not expand and not has_concat and self._on_one_line(open_brace, close_brace)
        semicolons = _semicolons_between(children)
        if inline:
            for index, statement in enumerate(statements):
                if index:
                    self.token(semicolons[index - 1], "body")
                self.writer.space()
                self.walk(statement)
            self.writer.space()
            self.token(close_brace, "body")
            return
        outer, inner = self.indent, self.indent + INDENT
        for index, statement in enumerate(statements):
            semicolon = semicolons[index - 1] if index else None
            if semicolon is not None and _is_simple(statements[index - 1]) and _is_simple(statement):
                self.token(semicolon, "body")  # the author's `conv ...; relu` stays one line
                self.writer.space()
            else:
                self.writer.newline(inner, Blank.NEVER if index == 0 else Blank.KEEP)
            self.indent = inner
            self.walk(statement)
        self.indent = outer
        self.writer.newline(outer, Blank.NEVER, comment_indent=inner, closing=True)
        self.token(close_brace, "body")

    def concat(self, tree: Tree) -> None:
        """`concat { ... }` and `sum { ... }`: one branch per line."""
        keyword, open_brace, close_brace = tree.children[0], tree.children[1], tree.children[-1]
        self.token(keyword, "concat")
        self.writer.space()
        self.token(open_brace, "concat")
        outer, inner = self.indent, self.indent + INDENT
        branches = [child for child in tree.children if isinstance(child, Tree)]
        for index, branch in enumerate(branches):
            self.writer.newline(inner, Blank.NEVER if index == 0 else Blank.KEEP)
            self.indent = inner
            self.walk(branch)
        self.indent = outer
        self.writer.newline(outer, Blank.NEVER, comment_indent=inner, closing=True)
        self.token(close_brace, "concat")

    def _on_one_line(self, first: Token, last: Token) -> bool:
        return "\n" not in self.text[first.start_pos : last.end_pos]

    # ----- tokens -------------------------------------------------------------------------
    def token(self, token: Token, rule: str) -> None:
        self._space_before(token, rule)
        self.writer.token(str(token), token.start_pos, token.end_pos, token.line)
        self.previous, self.previous_rule = token, rule

    def _space_before(self, token: Token, rule: str) -> None:
        """What separates `token` from the one before: a space, nothing, or a line break."""
        writer = self.writer
        if self.previous is not None and writer.current is not None:
            gap = _comment_pattern().sub("", self.text[self.previous.end_pos : token.start_pos])
            if writer.depth and "\n" in gap:
                writer.continuation_newline(closing_bracket=token in _CLOSERS)
            elif not writer.depth and _BACKSLASH_NEWLINE.search(gap):
                writer.backslash_newline(self.indent + INDENT)
            elif self._space_between(token, rule):
                writer.space()
            else:
                writer.no_space()

    def array(self, token: Token, rule: str) -> None:
        """An array of numbers: on one line if it was and still fits; written on several lines,
        with its line breaks kept like any bracket's; on one line too long, in rows. An array
        already in rows stays in rows (wrapped anew if its column moved)."""
        text = str(token)
        nested = number_arrays.texts(text)
        if "\n" in text and not _in_rows(text, nested, token.column - 1):
            for piece in _array_pieces(token):
                self.token(piece, rule)
            return
        self._space_before(token, rule)
        lines = number_arrays.layout(nested, self.writer.next_column(), ARRAY_LINE_LENGTH)
        self.writer.token_lines(lines, token.start_pos, token.end_pos, token.line)
        self.previous, self.previous_rule = token, rule

    def _space_between(self, token: Token, rule: str) -> bool:
        previous, previous_rule = self.previous, self.previous_rule
        assert previous is not None
        if token in _NO_SPACE_BEFORE or previous in _OPENERS or previous == "=":
            return False
        if previous_rule == "negate":
            return False
        if token == "(" and (previous.type == "CALL_NAME" or previous_rule in _DEFINITIONS):
            return False
        # In layer arguments a space separates arguments, so `width*4` is written unspaced;
        # inside brackets commas separate them and operators get room.
        binary = rule in _BINARY_RULES or previous_rule in _BINARY_RULES
        # `bias=c>3` like `width*4`; a condition (`if stride == 1 {`) keeps its spaces.
        binary = binary or (self.in_arguments and "compare" in (rule, previous_rule))
        if binary and not self.writer.depth:
            return False
        return True


def _semicolons_between(children: list) -> list[Token | None]:
    """For each pair of consecutive statements of a body, the `;` between them, or None if a
    newline separates them: one pass over the body, so a body of n statements costs O(n)."""
    found: list[Token | None] = []
    semicolon: Token | None = None
    newline = False
    seen_statement = False
    for child in children:
        if isinstance(child, Tree):
            if seen_statement:
                found.append(None if newline else semicolon)
            seen_statement, semicolon, newline = True, None, False
        elif child.type == "_NL":
            newline = True
        elif child == ";" and semicolon is None:
            semicolon = child
    return found


def _in_rows(text: str, nested: list, column: int) -> bool:
    """Whether the source wrote the array as `fmt` does, one row per line, at its column."""
    lines = number_arrays.rows(nested, column, ARRAY_LINE_LENGTH)
    return [line.strip() for line in text.splitlines()] == [line.strip() for line in lines]


def _array_pieces(token: Token):
    """An array's numbers, brackets and commas as tokens at their source positions."""
    text, line, counted = str(token), token.line, 0
    for piece in number_arrays.PIECE.finditer(text):
        line += text.count("\n", counted, piece.start())
        counted = piece.start()
        start = token.start_pos + piece.start()
        kind = {"[": "LSQB", "]": "RSQB", ",": "COMMA"}.get(piece.group(), "NUMBER")
        yield Token(kind, piece.group(), start, line, end_pos=start + len(piece.group()))


def _is_simple(statement: Tree) -> bool:
    if statement.data == "labelled":
        statement = statement.children[-1]
    return statement.data in _SIMPLE_STATEMENTS
