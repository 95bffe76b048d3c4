"""Syntax colouring: the Pygments lexer (found through its entry point) and the TextMate grammar."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ARCHITECTURES, EXAMPLES, ROOT
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from cnndsl.highlight import CnnLexer, textmate_grammar, textmate_json
from cnndsl.ops import LAYER_KINDS

SOURCES = sorted([*ARCHITECTURES.glob("*.cnn"), *EXAMPLES.glob("*.cnn")])
TEXTMATE_FILE = ROOT / "editors" / "cnn.tmLanguage.json"


def _tokens(text: str) -> list[tuple[object, str]]:
    return [(kind, value) for kind, value in CnnLexer().get_tokens(text) if value.strip()]


def test_found_through_the_entry_point():
    # `pygmentize -l cnn` and Sphinx/MkDocs find the lexer this way.
    assert isinstance(get_lexer_by_name("cnn"), CnnLexer)
    assert isinstance(get_lexer_for_filename("resnet50.cnn"), CnnLexer)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_shipped_file_lexes_without_errors(path: Path):
    text = path.read_text()
    tokens = list(CnnLexer().get_tokens(text))
    assert [value for kind, value in tokens if kind in Error] == []
    assert "".join(value for _, value in tokens) == (text if text.endswith("\n") else text + "\n")


def test_token_kinds():
    text = (
        'import "blocks.cnn"  # shared\n'
        "network net(classes=10) {\n"
        "    input 3x32x32\n"
        "    stage1: stage(64, blocks=2) * 3\n"
        "    conv 16 3x3 pad=same bias=false; leakyrelu 0.1\n"
        "    repeat 2 { residual { relu } shortcut { } }\n"
        "    concat { branch { } branch { dropout 1e-1 } }\n"
        "    fc classes//2\n"
        "}\n"
    )
    tokens = _tokens(text)
    kinds = dict((value, kind) for kind, value in reversed(tokens))
    assert kinds['"blocks.cnn"'] in String and kinds["# shared"] in Comment
    assert kinds["network"] in Keyword.Declaration and kinds["net"] in Name.Class
    for word in ("import", "repeat", "residual", "shortcut", "concat", "branch"):
        assert kinds[word] in Keyword, word
    assert kinds["input"] in Name.Builtin and kinds["conv"] in Name.Builtin and kinds["fc"] in Name.Builtin
    assert kinds["3x32x32"] in Number and kinds["3x3"] in Number and kinds["1e-1"] in Number.Float
    assert kinds["16"] in Number.Integer
    assert kinds["stage1"] in Name.Label and kinds["stage"] in Name.Function
    assert kinds["pad"] in Name.Attribute and kinds["classes"] in Name.Attribute
    assert kinds["same"] in Keyword.Constant and kinds["false"] in Keyword.Constant
    assert kinds["//"] in Operator and kinds["*"] in Operator


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_every_layer_kind_from_the_op_table_is_a_builtin(kind):
    assert _tokens(f"network n {{\n    input 3x8x8\n    {kind}\n}}\n")[5] == (Name.Builtin, kind)


def test_textmate_grammar_is_current_and_valid():
    assert TEXTMATE_FILE.read_text() == textmate_json(), "regenerate: python -m cnndsl.highlight > " + str(
        TEXTMATE_FILE.relative_to(ROOT)
    )
    grammar = json.loads(TEXTMATE_FILE.read_text())
    assert grammar["scopeName"] == "source.cnn" and grammar["fileTypes"] == ["cnn"]
    patterns = {p.get("name"): re.compile(p["match"]) for p in textmate_grammar()["patterns"]}
    layers = patterns["support.function.layer.cnn"]
    assert all(layers.fullmatch(kind) for kind in LAYER_KINDS)
    assert not layers.fullmatch("convolution")
    assert patterns["constant.numeric.dims.cnn"].search("conv 6 5x5")[0] == "5x5"
