"""Literal weights: arrays read in one token, their short forms, fmt's rows, and generated files."""

from __future__ import annotations

import random

import pytest

import cnndsl
from cnndsl import number_arrays
from cnndsl import syntax_tree as st
from cnndsl.errors import CnnError
from cnndsl.formatter import format_text
from cnndsl.parser import parse
from cnndsl.source import SourceFile


def conv_weights(text: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    model = cnndsl.loads(text, name="literal.cnn")
    attrs = next(data["attrs"] for _, data in model.graph.nodes(data=True) if data["op"] == "conv")
    return attrs["weights"].shape, attrs["weights"].values


def network(input_shape: str, conv: str) -> str:
    return f"network n {{\n    input {input_shape}\n    {conv}\n}}\n"


def argument_value(text: str) -> st.Expr:
    module = parse(SourceFile("value.cnn", network("1x6x6", f"conv 1 3x3 weights={text}")))
    return module.definitions[0].body[1].arguments[2].value


# ----- reading arrays -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("[1, 0, -1]", [1, 0, -1]),
        ("[[1, 0.5], [-2e3, 1E-2]]", [[1, 0.5], [-2000.0, 0.01]]),
        ("[\n  [1, 2],\n  [3, 4]\n]", [[1, 2], [3, 4]]),
        ("[[[[1]]]]", [[[[1]]]]),
    ],
)
def test_plain_arrays_are_read_in_one_piece(text, value):
    node = argument_value(text)
    assert isinstance(node, st.NumberArray)
    assert node.value == value
    assert [type(v) for v in node.value] == [type(v) for v in value]  # integers stay integers
    assert node.span.start == node.span.source.text.index("weights=") + len("weights=")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("[1., .5, 01]", [1.0, 0.5, 1]),  # numbers JSON does not have
        ("[1, 2,]", [1, 2]),  # a trailing comma
        ("[-\t1]", [-1]),  # a sign apart from its number: the general rule
        ("[1, 2 - 1]", [1, 1]),  # an expression
        ("[[1], 2]", [[1], 2]),  # levels of different depths
        ("[[[[[1]]]]]", [[[[[1]]]]]),  # deeper than one token takes
        ("[1,  # one\n 2]", [1, 2]),  # a comment inside
    ],
)
def test_other_arrays_are_lists_of_located_numbers(text, value):
    from cnndsl.expressions import evaluate

    node = argument_value(text)
    assert isinstance(node, st.ListExpr)
    assert evaluate(node, {}) == value


def test_a_number_inside_an_array_keeps_its_own_span():
    text = network("1x6x6", "conv 1 3x3 weights=[[1, 0, -1], [1, 1e999, -1], [1, 0, -1]]")
    with pytest.raises(CnnError) as caught:
        cnndsl.loads(text, name="big.cnn")
    diagnostic = caught.value.diagnostics[0]
    assert "too large for a 64-bit float" in diagnostic.message
    assert text[diagnostic.span.start : diagnostic.span.end] == "1e999"


def test_an_integer_too_long_inside_an_array_is_located():
    digits = "9" * 5000
    text = network("1x6x6", f"conv 1 1x1 weights=[{digits}]")
    with pytest.raises(CnnError) as caught:
        cnndsl.loads(text, name="long.cnn")
    diagnostic = caught.value.diagnostics[0]
    assert "digits is too long to read" in diagnostic.message
    assert text[diagnostic.span.start : diagnostic.span.end] == digits


def test_a_megabyte_of_literal_numbers_checks():
    # The timing is in benchmarks/bench_check.py; this only says it checks, and with these values.
    text = megabyte_network()
    assert len(text) > 2**20
    shape, values = conv_weights(text)
    assert shape == (256, 64, 3, 3)
    assert values[:3] == (0.001, -0.002, 0.003)


def megabyte_network(out_channels: int = 256) -> str:
    count = out_channels * 64 * 9
    numbers = [f"{(-1) ** i * (i % 1000 + 1) / 1000:.3f}" for i in range(count)]
    nested = number_arrays.nest(numbers, (out_channels, 64, 3, 3))
    return network("64x16x16", f"conv {out_channels} 3x3 weights={number_arrays.one_line(nested)}")


# ----- short forms --------------------------------------------------------------------------
FULL_1X1 = "conv 2 1x1 weights=[[[[1]], [[0]], [[0.5]]], [[[0]], [[1]], [[-1]]]]"


@pytest.mark.parametrize(
    "short",
    [
        "conv 2 1x1 weights=[[1, 0, 0.5], [0, 1, -1]]",  # out x in: a 1x1 conv's matrix
        "conv 2 1x1 weights=[1, 0, 0.5, 0, 1, -1]",  # one flat list
        "conv 2 1x1 weights=[[[1, 0, 0.5]], [[0, 1, -1]]]",  # any sizes of 1 left out
    ],
)
def test_short_forms_mean_the_full_array(short):
    assert conv_weights(network("3x4x4", short)) == conv_weights(network("3x4x4", FULL_1X1))


def test_one_filter_is_used_for_every_channel():
    edge = "[[1, 0, -1], [1, 0, -1], [1, 0, -1]]"
    shape, values = conv_weights(network("3x6x6", f"conv 3 3x3 groups=3 weights={edge}"))
    assert shape == (3, 1, 3, 3)
    assert values == (1.0, 0.0, -1.0) * 9
    shape, values = conv_weights(network("2x6x6", f"conv 4 3x3 weights={edge}"))
    assert shape == (4, 2, 3, 3) and values == (1.0, 0.0, -1.0) * 24


def test_one_filter_for_a_huge_conv_is_not_expanded_to_check_it():
    # 10^12 output channels are legal to check (never allocated); the filter repeats only on use.
    text = network("1x6x6", "conv 1000000000000 3x3 weights=[[1, 0, -1], [1, 0, -1], [1, 0, -1]]")
    model = cnndsl.loads(text, name="huge.cnn")
    assert model.params == 10**13


def test_the_short_forms_build_the_same_torch_module():
    torch = pytest.importorskip("torch")
    short = cnndsl.loads(network("3x4x4", "conv 2 1x1 weights=[[1, 0, 0.5], [0, 1, -1]]"), name="s.cnn")
    full = cnndsl.loads(network("3x4x4", FULL_1X1), name="f.cnn")
    short_weight = short.build("torch").state_dict()["conv1.weight"]
    assert short_weight.shape == (2, 3, 1, 1)
    assert torch.equal(short_weight, full.build("torch").state_dict()["conv1.weight"])


# ----- fmt --------------------------------------------------------------------------------
def test_fmt_writes_a_long_array_in_rows_and_keeps_it():
    rng = random.Random(0)
    numbers = [f"{rng.uniform(-1, 1):.4f}" for _ in range(4 * 2 * 3 * 3)]
    one_line = number_arrays.one_line(number_arrays.nest(numbers, (4, 2, 3, 3)))
    text = network("2x8x8", f"conv 4 3x3 weights={one_line} bias=false  # learned elsewhere")
    formatted = format_text(text)
    lines = formatted.splitlines()
    start = next(index for index, line in enumerate(lines) if "weights=" in line)
    column = lines[start].index("weights=") + len("weights=")
    rows = lines[start : start + 4 * 2 * 3]
    # one row of three numbers per line, each aligned one column right per open bracket
    assert [line.count(",") for line in rows[:-1]] == [3] * (len(rows) - 1)
    assert rows[0].endswith("weights=[[[[" + ", ".join(numbers[:3]) + "],")
    assert rows[1] == " " * (column + 3) + "[" + ", ".join(numbers[3:6]) + "],"
    assert rows[3] == " " * (column + 2) + "[[" + ", ".join(numbers[9:12]) + "],"
    assert rows[-1].endswith("]]]] bias=false  # learned elsewhere")
    assert all(len(line) <= 100 for line in lines)
    assert format_text(formatted) == formatted
    assert conv_weights(formatted) == conv_weights(text)


def test_fmt_keeps_a_short_array_on_its_line_and_respaces_it():
    text = network("1x6x6", "conv 1 3x3 weights=[ [1,0 ,-1],[1, 0,-1] ,[1,0,-1,] ] bias=false")
    assert "weights=[[1, 0, -1], [1, 0, -1], [1, 0, -1]] bias=false" in format_text(text)


def test_fmt_wraps_a_long_flat_list():
    numbers = [str(i) for i in range(64 * 3)]
    text = network("64x4x4", f"conv 3 1x1 weights=[{', '.join(numbers)}]")
    formatted = format_text(text)
    assert all(len(line) <= 100 for line in formatted.splitlines())
    assert len(formatted.splitlines()) > 6
    assert format_text(formatted) == formatted
    assert conv_weights(formatted) == conv_weights(text)


def test_fmt_lays_out_a_large_array_and_keeps_it():
    text = megabyte_network(out_channels=16)
    formatted = format_text(text)
    assert len(formatted.splitlines()) == 16 * 64 * 3 + 3
    assert format_text(formatted) == formatted
    # already in rows but moved to another column: still rows, wrapped anew
    moved = formatted.replace("    conv 16", "        conv 16")
    assert format_text(moved) == formatted


# ----- generated files ----------------------------------------------------------------------
ROWS = network("3x4x4", "conv 4 3x3 weights=[" + ", ".join(f"0.{i:02d}" for i in range(4 * 3 * 9)) + "]")


def test_the_torch_file_writes_rows():
    pytest.importorskip("torch")
    from cnndsl.plugins import get_backend

    model = cnndsl.loads(ROWS, name="rows.cnn")
    text = get_backend("torch").generate_source(model)
    lines = text.splitlines()
    start = lines.index("# fmt: off")
    assert lines[start + 1] == "CONV1_WEIGHT = [[[[0.0, 0.01, 0.02],"
    assert lines[start + 2] == "                  [0.03, 0.04, 0.05],"
    assert lines[start + 4] == "                 [[0.09, 0.1, 0.11],"
    assert lines[lines.index("# fmt: on") - 1].endswith("[0.105, 0.106, 0.107]]]]")


def test_the_numpy_file_writes_rows():
    from cnndsl.plugins import get_backend

    model = cnndsl.loads(ROWS, name="rows.cnn")
    text = get_backend("numpy").generate_source(model)
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if "'conv1.weight': ('literal'" in line)
    assert lines[start].endswith("[[[[0.0, 0.01, 0.02],")
    assert lines[start + 1].strip() == "[0.03, 0.04, 0.05],"
    assert all(len(line) <= 88 for line in lines[start : start + 36])
