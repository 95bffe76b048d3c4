"""The lexer that matches ARRAY apart gives the same tokens, trees and errors as Lark's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from lark.exceptions import UnexpectedInput

from cnndsl.parser import open_grammar

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(
    [*ROOT.glob("architectures/*.cnn"), *ROOT.glob("tests/bad/*.cnn"), *ROOT.glob("examples/**/*.cnn")]
)
EXTRA = [
    "network n { input 1x4x4\n conv(1, 3, weights=[[[[1, 0, -1], [1, 0, -1], [1, 0, -1]]]]) }\n",
    "network n { input 2x4x4\n x = [[1, 2], [3]]\n y = [1, a, 2]\n z = [[1.5e3, -.5], [2, 3]] }\n",
    "network n { input 1x4x4\n conv(1, 1, weights=[[[[1]]], [[[2]] }\n",
    "network n { input 1x4x4\n f([1, 2], [3, 4]) [5] }\n",
]


@pytest.fixture(scope="module")
def lexers():
    return open_grammar(), open_grammar(_plugins={})  # ours, and Lark's plain contextual lexer


def _outcome(parser, text: str):
    try:
        return "tree", parser.parse(text)
    except UnexpectedInput as error:
        return type(error).__name__, error.line, error.column, sorted(getattr(error, "expected", ()) or ())
    except Exception as error:  # noqa: BLE001 - e.g. the postlexer's nesting limit: same either way
        return type(error).__name__, str(error)


def test_the_files_are_found():
    assert len(FILES) > 50


TEXTS = [path.read_text(encoding="utf-8", errors="replace") for path in FILES] + EXTRA


@pytest.mark.parametrize("text", TEXTS)
def test_same_outcome_as_larks_own_lexer(lexers, text):
    ours, larks = lexers
    assert _outcome(ours, text) == _outcome(larks, text)


def test_ours_is_the_lexer_in_use(lexers):
    ours, larks = lexers
    assert type(ours.parser.lexer.lexer).__name__ == "ArrayApartContextualLexer"
    assert type(larks.parser.lexer.lexer).__name__ == "ContextualLexer"
