"""`cnndsl summary`: the JSON schema, Markdown, --depth, --set, --input, --network and their errors."""

import json
from pathlib import Path

import pytest

import cnndsl
from cnndsl.cli import EXIT_INVALID_INPUT as INVALID
from cnndsl.cli import EXIT_USAGE as USAGE

LAYER_KEYS = {"name", "op", "output_shape", "params", "macs"}
TOP_KEYS = {"network", "input_shape", "output_shape", "params", "buffers", "macs", "layers"}


def summary_json(cli, *args: str) -> dict:
    result = cli("summary", *args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.mark.parametrize("name", ["lenet5", "resnet50", "googlenet"])
def test_json_schema(cli, name):
    data = summary_json(cli, name)
    assert TOP_KEYS <= set(data)
    assert data["network"] == name
    assert isinstance(data["input_shape"], list) and isinstance(data["output_shape"], list)
    for key in ("params", "buffers", "macs"):
        assert isinstance(data[key], int)
    for row in data["layers"]:
        assert LAYER_KEYS <= set(row)
        assert isinstance(row["output_shape"], list)
        assert all(isinstance(size, int) for size in row["output_shape"])
    # One entry per op, in execution order: the IR's node order without the input.
    model = cnndsl.load(name)
    ops = [node for node, data in model.graph.nodes(data=True) if data["op"] != "input"]
    assert [row["name"] for row in data["layers"]] == ops
    assert [row["op"] for row in data["layers"]] == [model.graph.nodes[node]["op"] for node in ops]
    # The rows add up to the totals, and the totals are the published ones (test_architecture_totals).
    assert sum(row["params"] for row in data["layers"]) == data["params"] == model.params
    assert sum(row["macs"] for row in data["layers"]) == data["macs"] == model.macs
    assert data["layers"][-1]["output_shape"] == data["output_shape"]


def test_json_of_resnet50(cli):
    data = summary_json(cli, "resnet50")
    assert data["input_shape"] == [3, 224, 224]
    assert data["output_shape"] == [1000]
    assert (data["params"], data["macs"]) == (25_557_032, 4_089_184_256)
    # 53 batchnorms, each with a running mean and variance per channel (as many as its scale and
    # shift parameters) and one num_batches_tracked counter.
    batchnorms = [row for row in data["layers"] if row["op"] == "batchnorm"]
    assert len(batchnorms) == 53
    assert data["buffers"] == sum(row["params"] for row in batchnorms) + 53
    first = data["layers"][0]
    assert (first["name"], first["op"], first["output_shape"], first["params"]) == (
        "stem.conv1",
        "conv",
        [64, 112, 112],
        9408,
    )


def test_markdown_has_one_row_per_op(cli):
    result = cli("summary", "lenet5", "--format", "markdown")
    assert result.code == 0
    rows = [line for line in result.out.splitlines() if line.startswith("| `")]
    assert len(rows) == len(cnndsl.load("lenet5").layers) == 13
    assert rows[0] == "| `conv1` | conv | 6x28x28 | 156 | 117,600 |"
    assert "- **Total params**: 61,706" in result.out


def test_depth_folds_blocks_and_keeps_the_totals(cli):
    full = summary_json(cli, "resnet18")
    folded = summary_json(cli, "resnet18", "--depth", "0")
    names = [row["name"] for row in folded["layers"]]
    assert names == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(row["params"] for row in folded["layers"]) == full["params"] == folded["params"]
    assert sum(row["macs"] for row in folded["layers"]) == full["macs"]
    one = summary_json(cli, "resnet18", "--depth", "1")
    assert "layer2.basic1" in [row["name"] for row in one["layers"]]
    assert sum(row["params"] for row in one["layers"]) == full["params"]


def test_set_overrides_a_network_parameter(cli):
    data = summary_json(cli, "resnet18", "--set", "classes=10")
    assert data["output_shape"] == [10]
    assert data["params"] == 11_689_512 - 513 * 990  # the head shrinks from 1000 to 10 classes


def test_input_overrides_the_input_shape(cli):
    data = summary_json(cli, "resnet18", "--input", "3x64x64")
    assert data["input_shape"] == [3, 64, 64]
    assert data["params"] == 11_689_512  # global pooling: parameters do not depend on the size
    assert data["macs"] < 1_814_073_344 / 10


def test_network_selects_one_of_several(cli, tmp_path):
    source = tmp_path / "pair.cnn"
    source.write_text("network small { input 10; fc 2 }\nnetwork large { input 10; fc 20 }\n")
    assert summary_json(cli, str(source), "--network", "large")["output_shape"] == [20]
    several = cli("summary", str(source))
    assert several.code == USAGE
    assert "defines several networks (small, large); choose one with --network" in several.err
    missing = cli("summary", str(source), "--network", "lareg")
    assert missing.code == USAGE
    assert "has no network 'lareg' (did you mean 'large'?); networks: small, large" in missing.err


def test_a_network_named_like_its_file_is_the_default(cli, tmp_path):
    source = tmp_path / "large.cnn"
    source.write_text("network small { input 10; fc 2 }\nnetwork large { input 10; fc 20 }\n")
    assert summary_json(cli, str(source))["network"] == "large"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("--set", "clases=10"),
            USAGE,
            "network 'lenet5' has no parameter 'clases' (did you mean 'classes'?)",
        ),
        (("--set", "classes"), USAGE, "--set expects NAME=VALUE, found 'classes'"),
        (("--set", "classes="), USAGE, "--set expects NAME=VALUE, found 'classes='"),
        (("--set", "=10"), USAGE, "--set expects NAME=VALUE, found '=10'"),
        (("--set", "classes=1e999"), USAGE, "--set expects a finite number, found '1e999'"),
        (("--set", "classes=ten thousand"), USAGE, "--set expects a number"),
        (("--set", "classes=" + "9" * 5000), USAGE, "--set value of 5,000 characters is too long"),
        # A value of the wrong kind is found where the file uses it.
        (("--set", "classes=abc"), INVALID, "fc out_features: expected a positive integer, found 'abc'"),
        (("--set", "classes=0"), INVALID, "fc out_features: expected a positive integer, found 0"),
        (("--set", "classes=2.5"), INVALID, "fc out_features: expected a positive integer, found 2.5"),
        (("--input", "3x32"), USAGE, "--input: expected a shape such as 3x224x224 or 784, found 3x32"),
        (("--input", "1x0x32"), USAGE, "--input: sizes must be positive, found 1x0x32"),
        (("--input", "big"), USAGE, "--input expects a shape such as 3x224x224, found 'big'"),
        # Only ASCII digits are digits, and Python's `1_000` is not a number here.
        (("--set", "classes=1_000"), USAGE, "--set expects a number, sizes such as 3x32x32 or a word"),
        (("--set", "classes=\u0664"), USAGE, "--set expects a number, sizes such as 3x32x32 or a word"),
        (("--set", "classes=1.5\u0664"), USAGE, "--set expects a number, sizes such as 3x32x32 or a word"),
        (("--input", "1x\u0663\u0662x32"), USAGE, "--input expects a shape such as 3x224x224, found"),
        (("--input", "1x" + "9" * 5000), USAGE, "found '1x" + "9" * 38 + "... (5,002 characters)'"),
        # Numbers past the limits, shortened in the message.
        (
            ("--set", "classes=" + "9" * 2000),
            USAGE,
            "--set: 999999...999999 (an integer of 2,000 digits) is too large (integers are limited to 4096",
        ),
        (
            ("--set", "classes=" + "9" * 100),
            INVALID,
            "fc out_features: 999999...999999 (an integer of 100 digits) is too large (sizes are limited to",
        ),
        (
            ("--input", "1x3037000500x3037000500"),
            USAGE,
            "--input: 1x3037000500x3037000500 has 9,223,372,037,000,250,000 values; the values of a tensor",
        ),
        # LeNet-5's second 5x5 conv no longer fits an 8x8 image: the file is fine, the size is not.
        (("--input", "1x8x8"), INVALID, "kernel 5x5 does not fit the padded input"),
        (
            ("--network", "alexnet"),
            USAGE,
            "lenet5.cnn has no network 'alexnet'; networks: lenet5",
        ),
    ],
)
def test_bad_requests(cli, args, code, message):
    result = cli("summary", "lenet5", *args)
    assert result.code == code, result.err
    assert message in result.err
    assert result.out == ""
    assert "Traceback" not in result.err


def test_wrong_kind_of_set_value_points_at_its_use(cli):
    result = cli("summary", "lenet5", "--set", "classes=abc")
    assert result.err.splitlines() == [
        "lenet5.cnn:12:8: error: fc out_features: expected a positive integer, found 'abc'",
        "    fc classes",
        "       ^^^^^^^",
        "  note: checked with classes='abc' set from outside the file",
    ]


def test_absurd_sizes_are_counted_exactly(cli):
    data = summary_json(cli, "lenet5", "--set", "classes=1000000000000")
    assert data["output_shape"] == [1_000_000_000_000]
    assert data["params"] == 61_706 - 850 + 85 * 1_000_000_000_000


@pytest.mark.parametrize("format", ["table", "json", "markdown"])
def test_sizes_and_counts_at_the_limit_are_shown_exactly(cli, tmp_path, format):
    # Each size, tensor and count is at most 2**63 - 1; the totals go past it and still print.
    source = tmp_path / "limit.cnn"
    source.write_text(
        "network limit {\n"
        "    input 1x3037000499x3037000499\n"
        "    conv 1 1x1 bias=false\n"  # 9,223,372,030,926,249,001 MACs each
        "    conv 1 1x1 bias=false\n"
        "}\n"
    )
    result = cli("summary", str(source), "--format", format)
    assert result.code == 0, result.err
    assert ("18,446,744,061,852,498,002" if format != "json" else "18446744061852498002") in result.out
    checked = cli("check", str(source))
    assert checked.out == f"{source}: ok: limit 1x3037000499x3037000499 -> 1x3037000499x3037000499, " \
        "2 params, 18,446,744,061,852,498,002 MACs\n"


def test_summary_of_a_path(cli, tmp_path):
    source = Path(tmp_path / "tiny.cnn")
    source.write_text("network tiny { input 1x4x4; maxpool 2x2 stride=2 }\n")
    data = summary_json(cli, str(source))
    assert data["layers"] == [
        {"name": "maxpool1", "op": "maxpool", "output_shape": [1, 2, 2], "params": 0, "buffers": 0, "macs": 0}
    ]


def test_summary_says_where_same_padding_is_asymmetric(cli, tmp_path):
    # TensorFlow's `same`: for stride 2 on an even size, or an even kernel, the one extra row and
    # column of zeros go after (bottom/right).
    (tmp_path / "pads.cnn").write_text(
        "network pads {\n"
        "    input 3x8x8\n"
        "    conv 4 3x3 stride=2 pad=same\n"
        "    conv 4 2x2 pad=same\n"
        "    conv 4 3x3 pad=same\n"
        "}\n"
    )
    result = cli("summary", str(tmp_path / "pads.cnn"))
    assert result.code == 0
    notes = [line for line in result.out.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: conv1: `same` padding is asymmetric here (top 0, bottom 1, left 0, right 1), "
        "the extra row/column after, as in TensorFlow",
        "note: conv2: `same` padding is asymmetric here (top 0, bottom 1, left 0, right 1), "
        "the extra row/column after, as in TensorFlow",
    ]
    assert "4x4x4" in result.out  # ceil(8 / 2) = 4, and `same` keeps 4x4 from there on


def test_set_reaches_parameters_named_like_load_arguments(cli, tmp_path):
    """`--set input=5` sets the network's parameter `input`, not load()'s input shape."""
    path = tmp_path / "clash.cnn"
    path.write_text(
        "network n(input=3, network=2, source=1) {\n"
        "    input 1x8x8\n    conv input 3x3\n    conv network 3x3\n    conv source 1x1\n}\n"
    )
    result = cli("summary", str(path), "--set", "input=5", "--set", "network=4", "--set", "source=7")
    assert result.code == 0, result.err
    assert "output 7x4x4" in result.out
