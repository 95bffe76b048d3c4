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
    ],
)
def test_bad_requests_are_usage_errors(options, message):
    with pytest.raises(CnnUsageError) as raised:
        cnndsl.load("lenet5", **options)
    assert message in str(raised.value)


def test_summary_rejects_unknown_formats_and_depths():
    model = cnndsl.load("lenet5")
    with pytest.raises(CnnUsageError):
        model.summary("xml")
    with pytest.raises(CnnUsageError):
        model.summary("table", depth=-1)


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
