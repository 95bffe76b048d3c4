"""The Python API: `cnndsl.load` and `loads`, the Model's attributes, and how names resolve to files."""

import networkx as nx
import pytest

import cnndsl
from cnndsl.errors import CnnError, CnnUsageError


def test_model_attributes_of_resnet50():
    model = cnndsl.load("resnet50")
    assert (model.params, model.macs) == (25_557_032, 4_089_184_256)
    assert model.input_shape == (3, 224, 224)
    assert model.output_shape == (1000,)
    assert isinstance(model.graph, nx.DiGraph)
    assert model.buffers == sum(row.buffers for row in model.layers) > 0
    assert len(model.layers) == model.graph.number_of_nodes() - 1  # every op but the input
    assert model.layers[0].name == "stem.conv1"
    text = model.summary()
    assert text.startswith("resnet50 (resnet50.cnn): input 3x224x224 -> output 1000\n")
    assert "Total params                      25,557,032" in text
    assert repr(model) == "<cnndsl.Model resnet50: 25,557,032 params, 4,089,184,256 MACs>"


def test_graph_follows_the_ir_contract():
    graph = cnndsl.load("googlenet").graph
    position = {node: index for index, node in enumerate(graph.nodes)}
    # Execution order: every node's inputs come before it.
    assert all(position[source] < position[node] for node in graph for source in graph.nodes[node]["inputs"])
    assert graph.graph["inputs"] == ["input"]
    assert graph.graph["outputs"] == [list(graph.nodes)[-1]]
    for node, data in graph.nodes(data=True):
        assert {"op", "attrs", "inputs", "shape", "params", "macs", "span", "chain", "scope"} <= set(data)
        # Edges carry the input order (concat order; add is [branch, shortcut]).
        edges = sorted(graph.in_edges(node), key=lambda edge: graph.edges[edge]["index"])
        assert [source for source, _ in edges] == data["inputs"]


@pytest.mark.parametrize("spec", ["vgg16", "vgg16.cnn"])
def test_built_in_names_resolve_from_any_folder(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cnndsl.load(spec).params == 138_357_544


@pytest.mark.parametrize("spec", ["vgg16", "vgg16.cnn"])
def test_a_local_file_wins_over_the_built_in(spec, tmp_path, monkeypatch):
    (tmp_path / "vgg16.cnn").write_text("network vgg16 { input 3x8x8; conv 2 1x1 }\n")
    monkeypatch.chdir(tmp_path)
    model = cnndsl.load(spec)
    assert model.params == 8
    assert model.graph.graph["source"] == "vgg16.cnn"


def test_load_takes_network_parameters_and_input_shape():
    model = cnndsl.load("alexnet", classes=10, input="3x256x256")
    assert model.output_shape == (10,)
    assert model.input_shape == (3, 256, 256)
    assert cnndsl.load("alexnet", input=(3, 256, 256)).params == model.params + 4097 * 990


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input": (3, 0, 32)}, "input shape: sizes must be positive, found 3x0x32"),
        ({"input": "3x32"}, "--input: expected a shape such as 3x224x224 or 784, found 3x32"),
        ({"nonsense": 1}, "network 'lenet5' has no parameter 'nonsense'"),
        ({"network": "other"}, "lenet5.cnn has no network 'other'"),
        ({"network": 5}, "network must be a network's name, found 5"),
        ({"input": (3, 2**40, 2**40)}, "has 3,626,777,458,843,887,524,118,528 values; the values"),
        ({"input": (3, 2**20000, 1)}, "398027...309376 (an integer of 6,021 digits) is too large"),
        ({"input": "3x\u0663\u0662x32"}, "--input expects a shape such as 3x224x224"),
    ],
    ids=["zero", "flat", "parameter", "network", "network-int", "values", "huge", "digits"],
)
def test_bad_requests_are_usage_errors(options, message):
    with pytest.raises(CnnUsageError) as raised:
        cnndsl.load("lenet5", **options)
    assert message in str(raised.value)


# Keyword values are the language's values: what a .cnn file could write, within its limits.
LAYERED = [[[[]]]]
for _ in range(200):
    LAYERED = [LAYERED]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**20000, "parameter classes: 398027...309376 (an integer of 6,021 digits) is too large"),
        (-(2**5000), "parameter classes: -141246...909376 (an integer of 1,506 digits) is too large"),
        (float("inf"), "parameter classes: expected a finite number, found inf"),
        (float("nan"), "parameter classes: expected a finite number, found nan"),
        ("ten thousand", 'parameter classes: expected a word such as same or a number, found "ten thousand"'),
        ("\u0664", "parameter classes: expected a word such as same or a number"),
        ("x" * 4999 + "!", '"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." (5,000 characters)'),
        (object(), "expected an integer, a number, sizes such as (3, 32, 32) or a word such as same"),
        (3 + 4j, "found (3+4j)"),
        (b"10", "found a Python bytes"),
        ((1, float("inf")), "expected a finite number, found inf"),
        (LAYERED, "lists and tuples nest more than 100 levels deep"),
    ],
    ids=["2**20000", "-2**5000", "inf", "nan", "words", "digit", "long", "object", "complex", "bytes"]
    + ["tuple", "deep"],
)
def test_absurd_keyword_values_are_usage_errors(value, message):
    with pytest.raises(CnnUsageError) as raised:
        cnndsl.load("lenet5", classes=value)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("value", "found"),
    [
        (2**70, "1180591620717411303424 is too large (sizes are limited to 2**63 - 1"),
        (2**4000, "131820...949376 (an integer of 1,205 digits) is too large (sizes are limited"),
        (1.5, "expected a positive integer, found 1.5"),
        (True, "expected a positive integer, found 'true'"),
        (None, "expected a positive integer, found 'none'"),
        ("abc", "expected a positive integer, found 'abc'"),
        ((1, 2), "expected a positive integer, found 1x2"),
        ([1], "expected a positive integer, found a list"),
    ],
    ids=["2**70", "2**4000", "float", "True", "None", "word", "tuple", "list"],
)
def test_keyword_values_of_the_wrong_kind_are_found_where_they_are_used(value, found):
    with pytest.raises(CnnError) as raised:
        cnndsl.load("lenet5", classes=value)
    assert not isinstance(raised.value, CnnUsageError)
    assert str(raised.value).startswith(f"lenet5.cnn:12:8: error: fc out_features: {found}")


def test_keyword_values_take_python_words_and_numpy_integers():
    numpy = pytest.importorskip("numpy")
    assert cnndsl.load("lenet5", classes=numpy.int64(12)).output_shape == (12,)
    source = "network n(bias=true, pad=valid) { input 3x8x8; conv 4 3x3 bias=bias pad=pad }"
    assert cnndsl.loads(source, bias=False, pad="same").params == 4 * 3 * 9


def test_summaries_never_overflow_a_float():
    from cnndsl.formatting import RENDERERS
    from cnndsl.summary import Row, Summary

    huge = 10**400  # more than a float holds; a checked graph never gets here, a hand-made one may
    row = Row("conv1", "conv", (huge, 1, 1), huge, huge, 0, huge, 0)
    summary = Summary("n", "n.cnn", (3, 1, 1), (huge, 1, 1), (row,), huge, huge, 0, huge, huge)
    for render in RENDERERS.values():
        assert "100000000000" in render(summary)


def test_summary_rejects_unknown_formats_and_depths():
    model = cnndsl.load("lenet5")
    with pytest.raises(CnnUsageError):
        model.summary("xml")
    with pytest.raises(CnnUsageError):
        model.summary("table", depth=-1)
    with pytest.raises(CnnUsageError, match=r"found -398027\.\.\.309376 \(an integer of 6,021 digits\)"):
        model.summary("table", depth=-(2**20000))
    with pytest.raises(CnnUsageError, match="unknown summary format '398027...309376"):
        model.summary(2**20000)


def test_loads_reports_every_error_at_once():
    source = "network n {\n  input 3x8x8\n  conv 0 3x3\n  maxpool 2x2 stride=0\n  fc 10 bias=maybe\n}\n"
    with pytest.raises(CnnError) as raised:
        cnndsl.loads(source, name="three.cnn")
    assert [(d.span.line, d.span.column) for d in raised.value.diagnostics] == [(3, 8), (4, 22), (5, 14)]
    assert str(raised.value).splitlines()[0] == (
        "three.cnn:3:8: error: conv out_channels: expected a positive integer, found 0"
    )


def test_user_files_can_import_the_shipped_block_libraries(tmp_path):
    # resnet_blocks.cnn is not beside the user's file: the built-in copy is found, and
    # diagnostics name it by its bare file name rather than its install path.
    (tmp_path / "tiny_resnet.cnn").write_text(
        'import "resnet_blocks.cnn"\n'
        "network tiny_resnet {\n"
        "    input 3x32x32\n"
        "    layer1: basic_stage(16, blocks=2, stride=0)\n"
        "}\n"
    )
    with pytest.raises(CnnError) as caught:
        cnndsl.load(tmp_path / "tiny_resnet.cnn")
    (diagnostic,) = caught.value.diagnostics
    assert str(diagnostic.span).startswith("resnet_blocks.cnn:")
    assert diagnostic.message == "conv stride: expected a positive size, found 0"
    assert [frame.signature for frame in diagnostic.chain] == [
        "basic(16, stride=0)",
        "basic_stage(16, blocks=2, stride=0)",
    ]
    fixed = (tmp_path / "tiny_resnet.cnn").read_text().replace("stride=0", "stride=2")
    (tmp_path / "tiny_resnet.cnn").write_text(fixed)
    assert cnndsl.load(tmp_path / "tiny_resnet.cnn").output_shape == (16, 16, 16)


def test_the_parser_cache_lives_in_a_private_folder(tmp_path):
    # The parse tables are cached as JSON, in a folder and a file that others cannot write to.
    import os
    import subprocess
    import sys

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "cnndsl", "check", "lenet5"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "cnndsl"
    assert (folder / "cnn-grammar.json").is_file()
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "cnn-grammar.json").stat().st_mode & 0o777 == 0o600


def test_keywords_reach_parameters_named_like_load_arguments():
    source = "network n(source=1, input=2) {\n    input 1x8x8\n    conv source 3x3\n    conv input 1x1\n}\n"
    model = cnndsl.loads(source, source=4, overrides={"input": 5})
    assert model.output_shape == (5, 6, 6)
