"""Odd but possible programs: each checks fine or gives a diagnostic, never a Python exception."""

import pytest

import cnndsl
from cnndsl import ops
from cnndsl.diagnostics import render_all
from cnndsl.errors import CnnError


def outcome(source: str) -> cnndsl.Model | CnnError:
    """The model, or the CnnError (rendered once, so rendering is exercised too)."""
    try:
        return cnndsl.loads(source, name="odd.cnn")
    except CnnError as error:
        assert render_all(error.diagnostics)
        return error


def error_of(source: str) -> str:
    result = outcome(source)
    assert isinstance(result, CnnError), "expected a diagnostic"
    return str(result)


@pytest.mark.parametrize(
    ("source", "output_shape"),
    [
        ("network n { input 3x8x8; repeat 0 { conv 8 3x3 } }", (3, 8, 8)),
        ("block b(c) { conv c 3x3 }\nnetwork n { input 3x8x8; b(64) * 0 }", (3, 8, 8)),
        (
            "network n { input 3x8x8; residual { concat { branch { conv 1 1x1 }; branch { conv 2 1x1 } } } }",
            (3, 8, 8),
        ),
        ("network n {\n\tinput 3x8x8\n\tconv 4 3x3\tpad=1\n}", (4, 8, 8)),
        ("network n {\r\n  input 3x8x8\r\n  conv 4 3x3\r\n}\r\n", (4, 6, 6)),
        ("# ünïcödé ✓ 漢字\nnetwork n { input 3x8x8  # ✓\n relu }", (3, 8, 8)),
        ("\ufeffnetwork n { input 3x8x8 }", (3, 8, 8)),  # a byte-order mark, as `loads` may get it
        ("network n {\n input 3x8x8\n" + " relu;" * 20_000 + "\n}", (3, 8, 8)),
        ("network n { input 3x8x8; conv " + "(" * 98 + "4" + ")" * 98 + " 3x3 }", (4, 6, 6)),
        ("network n { input 3x8x8; conv " + "1+" * 200 + "1 3x3 }", (201, 6, 6)),
        ("network n { input 3x8x8; conv 1000000000000 1x1 }", (1_000_000_000_000, 8, 8)),
        ("network n(c=2) { input 3x8x8; conv c * 3 // 2 + c % 2 1x1 }", (3, 8, 8)),
        ("network n { input 3x8x8; residual { } }", (3, 8, 8)),
        ("network n { input 3x8x8; concat { branch { } branch { } } }", (6, 8, 8)),
    ],
)
def test_odd_but_valid(source, output_shape):
    result = outcome(source)
    assert isinstance(result, cnndsl.Model), str(result)
    assert result.output_shape == output_shape


def test_labels_may_take_names_that_automatic_names_then_skip():
    model = cnndsl.loads("network n { input 3x8x8; conv2: conv 3 1x1; conv 3 1x1; conv 3 1x1 }")
    assert [row.name for row in model.layers] == ["conv2", "conv1", "conv3"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "defines no network"),
        ("# only a comment\n", "defines no network"),
        ("network n {}", "network 'n' must start with `input CxHxW`"),
        ("network n { conv 8 3x3 }", "network 'n' must start with `input CxHxW`"),
        ("network n { input 3x8x8; input 3x8x8 }", "`input` must be the first statement of a network"),
        ("network n { input 3x8x8; cönv 8 3x3 }", "unexpected character 'ö'"),
        (
            "network n { input 3x8x8; conv 6.5 3x3 }",
            "conv out_channels: expected a positive integer, found 6.5",
        ),
        (
            "network n { input 3x8x8; conv 8 3.0 }",
            "conv kernel: expected a size such as 3, 3x3 or (3, 5), found 3.0",
        ),
        (
            "network n { input 3x8x8; conv " + "(" * 10_000 + "4" + ")" * 10_000 + " 3x3 }",
            "nest more than 100",
        ),
        ("network n { input 3x8x8; conv " + "1+" * 10_000 + "1 3x3 }", "too deeply nested"),
        ("network n { input 3x8x8; conv " + "- " * 10_000 + "1 3x3 }", "too deeply nested"),
        (
            "network n { input 3x8x8; conv " + "9" * 5000 + " 3x3 }",
            "an integer of 5,000 digits is too long to read",
        ),
        (
            # Each factor is within the 4096-bit limit on integers, their product is not.
            "network n { input 3x8x8; conv " + "9" * 1000 + " * " + "9" * 1000 + " 3x3 }",
            "gives an integer of more than",
        ),
        (
            "network n { input 3x8x8; conv " + "9" * 4000 + " 3x3 }",
            "999999...999999 (an integer of 4,000 digits) is too large (integers are limited to 4096 bits",
        ),
        ("network n { input 3x8x8; dropout " + "9" * 400 + " / 1.5 }", "'/' overflows a 64-bit float here"),
        (
            "network n { input 3x8x8 }\nnetwork n { input 3x8x8 }",
            "network 'n' is already defined at odd.cnn:1:9",
        ),
        ("block a() { a() }\nnetwork n { input 3x8x8; a() }", "block 'a' calls itself (a -> a)"),
        (
            "network n { input 3x8x8; conv 8 3x3 bias=[1, 2] }",
            "bias has 2 values, but this conv has 8 output channels",
        ),
    ],
)
def test_odd_and_invalid(source, message):
    if "defines no network" in message:
        with pytest.raises(CnnError, match=message):
            cnndsl.loads(source)
        return
    assert message in error_of(source)


def test_deeply_nested_blocks_are_a_diagnostic():
    blocks = "".join(f"block b{i}() {{ b{i + 1}() }}\n" for i in range(300)) + "block b300() { relu }\n"
    message = error_of(blocks + "network n { input 3x8x8; b0() }")
    assert "blocks nest more than 100 levels deep here" in message

    def residuals(depth: int) -> str:
        return "network n {\n input 3x8x8\n" + "residual {\n" * depth + "relu\n" + "}\n" * depth + "}\n"

    # The network's braces and 99 residuals inside are 100 levels: the most there may be.
    assert cnndsl.loads(residuals(99)).output_shape == (3, 8, 8)
    assert "nest more than 100 levels deep" in error_of(residuals(100))


ODD_VALUES = [
    "10**30",
    "-10**30",
    "0",
    "-1",
    "2.5",
    "1e308",
    "same",
    "none",
    "[1]",
    "(1, 2, 3)",
    '"x"',
    "3x3x3",
]


@pytest.mark.parametrize("kind", sorted(name for name in ops.LAYER_KINDS if ops.OPS[name].args))
def test_every_argument_of_every_layer_takes_any_value_without_a_crash(kind):
    op = ops.OPS[kind]
    before = "flatten; " if kind in ("fc", "linear") else ""
    for argument in op.args:
        # Required arguments other than the one under test get a size every layer accepts.
        others = " ".join(f"{a.name}=3" for a in op.args if a.default is ops.REQUIRED and a != argument)
        for value in ODD_VALUES:
            value = value.replace("10**30", "1" + "0" * 30)
            result = outcome(
                f"network n {{ input 3x32x32; {before}{kind} {others} {argument.name}={value} }}"
            )
            assert isinstance(result, (cnndsl.Model, CnnError))


@pytest.mark.parametrize("line_break", list("\r\v\x1c\x1d\x1e\x85\u2028\u2029"), ids=repr)
def test_a_comment_ends_at_any_line_break_an_editor_shows(line_break):
    # The code after it must not be hidden in the comment: it is refused where the break is.
    message = error_of(f"network n {{\n    input 3x8x8  # note{line_break}    conv 8 9x9\n}}\n")
    assert message == (
        f"odd.cnn:2:24: error: unexpected line break {line_break!r}: only \\n and \\r\\n end a line "
        "in a .cnn file (an editor may show a new line here)"
    )
    windows = "network n {\r\n    input 3x8x8  # note\r\n    relu\r\n}\r\n"
    assert cnndsl.loads(windows).output_shape == (3, 8, 8)


@pytest.mark.parametrize("text", ["", "\n\n   \n", "\ufeff", "\r\n\t\r\n"])
def test_an_empty_file_is_an_error_not_a_library(text):
    assert error_of(text) == "odd.cnn:1:1: error: the file defines no network or block: it is empty"
