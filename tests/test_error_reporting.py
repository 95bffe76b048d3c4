"""How errors are collected and shown: each mistake once, per call site, capped, with sound hints."""

from __future__ import annotations

import pytest

from cnndsl.diagnostics import render_all
from cnndsl.errors import MAX_SHOWN_ERRORS, CallFrame, CnnError, Diagnostic, DiagnosticSink
from cnndsl.expressions import did_you_mean
from cnndsl.loader import check_all, loads
from cnndsl.name_check import SUGGESTED_NAMES
from cnndsl.ops import LAYER_KINDS
from cnndsl.source import SourceFile, Span

SOURCE = SourceFile("a.cnn", "network n {\n    input 3x8x8\n}\n")
HERE, THERE = Span(SOURCE, 0, 7), Span(SOURCE, 16, 21)


def frame(start: int) -> CallFrame:
    return CallFrame("b()", Span(SOURCE, start, start + 3))


def collected(*diagnostics: Diagnostic) -> list[Diagnostic]:
    sink = DiagnosticSink()
    for diagnostic in diagnostics:
        sink.add(CnnError(diagnostic))
    return sink.diagnostics


def test_a_mistake_is_one_per_message_place_and_call_chain():
    one = Diagnostic("bad", HERE, (frame(20),))
    assert collected(one, one) == [one]
    other_call = Diagnostic("bad", HERE, (frame(24),))
    assert collected(one, other_call) == [one, other_call]
    assert len(collected(one, Diagnostic("bad", THERE, (frame(20),)), Diagnostic("worse", HERE))) == 3


def test_a_mistake_found_without_a_chain_stands_for_its_chained_copies():
    alone = Diagnostic("unknown layer", HERE)
    called = Diagnostic("unknown layer", HERE, (frame(20),))
    assert collected(alone, called) == [alone]
    assert collected(called, alone) == [alone]
    assert DiagnosticSink([alone, alone]).diagnostics == [alone]


def test_a_block_with_an_unknown_layer_called_twice_is_one_error_for_check():
    text = "block b() {\n    rleu\n}\nnetwork n {\n    input 3x8x8\n    b()\n    b()\n}\n"
    with pytest.raises(CnnError) as caught:
        check_all(SourceFile("t.cnn", text))
    assert [(d.message, d.chain) for d in caught.value.diagnostics] == [
        ("unknown layer or block 'rleu' (did you mean 'relu'?)", ())
    ]


def test_an_error_in_a_default_names_its_call():
    text = "block b(k, pad=k//2) {\n    conv 8 k pad=pad\n}\nnetwork n {\n    input 3x8x8\n    b(3x3)\n}\n"
    with pytest.raises(CnnError) as caught:
        loads(text, "t.cnn")
    (diagnostic,) = caught.value.diagnostics
    assert [f.signature for f in diagnostic.chain] == ["b(3x3)"]
    assert diagnostic.chain[0].span.line == 6


def test_many_errors_are_all_kept_and_the_first_shown():
    count = MAX_SHOWN_ERRORS + 5
    text = "network n {\n    input 3x8x8\n" + "".join(f"    layer{i}\n" for i in range(count)) + "}\n"
    with pytest.raises(CnnError) as caught:
        check_all(SourceFile("t.cnn", text))
    diagnostics = caught.value.diagnostics
    assert len(diagnostics) == count  # an editor may list all of them
    shown = render_all(diagnostics)
    assert shown.count(": error: ") == MAX_SHOWN_ERRORS
    assert "unknown layer or block 'layer19'" in shown and "'layer20'" not in shown
    assert shown.endswith("\n... and 5 more errors, not shown\n25 errors\n")
    message = str(caught.value)
    assert message.count("\n") == MAX_SHOWN_ERRORS and message.endswith("... and 5 more errors, not shown")


def test_only_the_first_unknown_names_get_a_suggestion_and_keep_it():
    # Finding a close name is the costly part of an error; errors past those shown need none.
    # A block checked on its own and when called words each mistake the same, so it is one.
    names = [f"rleu{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"]
    text = "block b() {\n" + "".join(f"    {name}\n" for name in names) + "}\n"
    text += "network n {\n    input 3x8x8\n    b()\n    b()\n}\n"
    with pytest.raises(CnnError) as caught:
        check_all(SourceFile("t.cnn", text))
    diagnostics = caught.value.diagnostics
    assert len(diagnostics) == len(names)
    assert all(d.chain == () for d in diagnostics)
    hinted = [d for d in diagnostics if "did you mean 'relu'" in d.message]
    assert len(hinted) == SUGGESTED_NAMES


@pytest.mark.parametrize("word", ["relu6", "gelu", "elu", "prelu", "selu", "mish", "conv1d", "hardswish"])
def test_no_suggestion_of_a_different_function(word):
    # Also once more activations are layers (relu6, gelu, silu, ...): `selu` is not `silu`.
    assert did_you_mean(word, LAYER_KINDS) == ""
    assert did_you_mean(word, [*LAYER_KINDS, "relu6", "gelu", "silu", "elu", "hardswish"]) == ""


@pytest.mark.parametrize(
    ("word", "meant"),
    [("covn", "conv"), ("ocnv", "conv"), ("rleu", "relu"), ("Relu", "relu"), ("batchnrom", "batchnorm"),
     ("maxpol", "maxpool"), ("flaten", "flatten"), ("resnt50", "resnet50"), ("stgae17", "stage17")],
)
def test_suggestions_for_misspellings(word, meant):
    candidates = [*LAYER_KINDS, "resnet50", *(f"stage{i}" for i in range(4000))]
    assert did_you_mean(word, candidates) == f" (did you mean '{meant}'?)"


def test_no_suggestion_for_a_very_long_name():
    assert did_you_mean("c" + "o" * 10_000 + "nv", LAYER_KINDS) == ""
