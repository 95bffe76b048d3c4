"""Syntax colouring for .cnn files: a Pygments lexer and the TextMate grammar for editors.

Both are built from the same word lists, and the layer names come from the op table, so a new
op is coloured everywhere without touching this file. `python -m cnndsl.highlight` prints the
TextMate grammar that editors/cnn.tmLanguage.json holds.
"""

from __future__ import annotations

import json

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

from .expressions import SYMBOLS
from .ops import LAYER_KINDS

KEYWORDS = ("import", "repeat", "residual", "shortcut", "concat", "branch", "from", "output")
KEYWORDS += ("if", "else", "gate", "sum", "and", "or", "not")  # adaptive blocks and merges
DECLARATIONS = ("network", "block")
LAYERS = tuple(sorted({*LAYER_KINDS, "input"}))
CONSTANTS = tuple(sorted(SYMBOLS))
INPUT_NAMES = ("in_channels", "in_height", "in_width")  # bound in every body (elaborate.INPUT_NAMES)
OPERATORS = r"//|==|!=|<=|>=|[-+*/%=<>]"

# Regular expressions shared by both grammars (they mirror the terminals of grammars/cnn.lark).
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
DIMS = r"\d+(?:x\d+)+(?![A-Za-z0-9_])"
FLOAT = r"(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\.\d+(?:[eE][-+]?\d+)?)"
INTEGER = r"\d+"
STRING = r'"[^"\n]*"'
DECLARATION = rf"\b({'|'.join(DECLARATIONS)})\s+({IDENTIFIER})"


class CnnLexer(RegexLexer):
    """Pygments lexer for the .cnn network description language."""

    name = "cnn"
    aliases = ["cnn"]
    filenames = ["*.cnn"]
    mimetypes = ["text/x-cnn"]
    url = "https://github.com/cnndsl/cnndsl"

    tokens = {
        "root": [
            (r"[ \t\f]+", Whitespace),
            (r"\r?\n", Whitespace),
            (r"\\[ \t\f]*\r?\n", Text),  # a statement continued on the next line
            (r"#[^\n\r\v\x1c-\x1e\x85\u2028\u2029]*", Comment.Single),
            (STRING, String.Double),
            (DECLARATION.replace(r"\s+", r"(\s+)"), bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (words(KEYWORDS, prefix=r"\b", suffix=r"\b"), Keyword),
            (rf"{IDENTIFIER}(?=\()", Name.Function),  # a block call: the name glued to "("
            (rf"({IDENTIFIER})([ \t]*)(:)", bygroups(Name.Label, Whitespace, Punctuation)),
            (rf"({IDENTIFIER})([ \t]*)(=)(?!=)", bygroups(Name.Attribute, Whitespace, Operator)),
            (words(LAYERS, prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (words(CONSTANTS, prefix=r"\b", suffix=r"\b"), Keyword.Constant),
            (words(INPUT_NAMES, prefix=r"\b", suffix=r"\b"), Name.Builtin.Pseudo),
            (DIMS, Number),
            (FLOAT, Number.Float),
            (INTEGER, Number.Integer),
            (IDENTIFIER, Name),
            (OPERATORS, Operator),
            (r"[{}()\[\],;:]", Punctuation),
        ]
    }


def _alternatives(names: tuple[str, ...]) -> str:
    return r"\b(?:" + "|".join(names) + r")\b"


def _captures(match: str, first: str, second: str) -> dict:
    return {"match": match, "captures": {"1": {"name": first}, "2": {"name": second}}}


def textmate_grammar() -> dict:
    """The TextMate grammar (VS Code, Sublime Text, Atom, GitHub's Linguist) for .cnn files."""
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "cnn",
        "scopeName": "source.cnn",
        "fileTypes": ["cnn"],
        "patterns": [
            {"name": "comment.line.number-sign.cnn", "match": "#.*$"},
            {"name": "string.quoted.double.cnn", "match": STRING},
            _captures(DECLARATION, "storage.type.cnn", "entity.name.type.cnn"),
            {"name": "keyword.control.cnn", "match": _alternatives(KEYWORDS)},
            {"name": "entity.name.function.cnn", "match": rf"\b{IDENTIFIER}(?=\()"},
            _captures(rf"\b({IDENTIFIER})[ \t]*(:)", "entity.name.label.cnn", "punctuation.separator.cnn"),
            _captures(rf"\b({IDENTIFIER})[ \t]*(=)(?!=)", "variable.parameter.cnn", "keyword.operator.cnn"),
            {"name": "support.function.layer.cnn", "match": _alternatives(LAYERS)},
            {"name": "constant.language.cnn", "match": _alternatives(CONSTANTS)},
            {"name": "variable.language.cnn", "match": _alternatives(INPUT_NAMES)},
            {"name": "constant.numeric.dims.cnn", "match": rf"\b{DIMS}"},
            {"name": "constant.numeric.float.cnn", "match": FLOAT},
            {"name": "constant.numeric.integer.cnn", "match": rf"\b{INTEGER}\b"},
            {"name": "keyword.operator.cnn", "match": OPERATORS},
            {"name": "punctuation.cnn", "match": r"[{}()\[\],;:]"},
        ],
    }


def textmate_json() -> str:
    return json.dumps(textmate_grammar(), indent=2) + "\n"


if __name__ == "__main__":
    print(textmate_json(), end="")
