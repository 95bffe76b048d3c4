"""`cnndsl graph`: boxes carry op, shape and parameters; blocks are clusters; --depth folds."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree

import pytest
from conftest import run_cli

import cnndsl
from cnndsl.graph_render import to_dot, to_mermaid
from cnndsl.graph_view import build_view

HAS_DOT = shutil.which("dot") is not None
needs_graphviz = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")

# Published totals: torchvision's parameter counts, LeCun et al. for LeNet-5.
PUBLISHED_PARAMS = {"lenet5": 61_706, "resnet50": 25_557_032, "googlenet": 6_998_552, "vgg16": 138_357_544}


def _dot_nodes(dot: str) -> dict[str, str]:
    """Node id -> label text of every box in DOT text."""
    return {m[1]: m[2] for m in re.finditer(r'^\s*"([^"]+)" \[label="((?:[^"\\]|\\.)*)"', dot, re.M)}


def _label_params(label: str) -> int:
    found = re.search(r"([\d,]+) params", label)
    return int(found[1].replace(",", "")) if found else 0


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
@pytest.mark.parametrize("depth", [None, 0, 1])
def test_boxes_add_up_to_the_published_parameter_count(name, depth):
    args = ["graph", name] + ([] if depth is None else ["--depth", str(depth)])
    result = run_cli(*args)
    assert result.code == 0, result.err
    labels = _dot_nodes(result.out)
    assert sum(_label_params(label) for label in labels.values()) == PUBLISHED_PARAMS[name]
    assert f"{PUBLISHED_PARAMS[name]:,} params" in result.out.splitlines()[1]  # the title


def test_every_op_is_a_box_with_its_shape_and_every_input_an_edge():
    model = cnndsl.load("resnet18")
    dot = to_dot(build_view(model.graph))
    labels = _dot_nodes(dot)
    assert set(labels) == set(model.graph.nodes)
    for node, data in model.graph.nodes(data=True):
        shape = "x".join(map(str, data["shape"]))
        assert f"\\n{shape}" in labels[node], node
        for source in data["inputs"]:
            assert f'"{source}" -> "{node}";' in dot
    assert len(re.findall(r'^    "[^"]+" -> "[^"]+";$', dot, re.M)) == model.graph.number_of_edges()
    assert 'label="conv1\\nconv 64 7x7 /2\\n64x112x112\\n9,408 params"' in dot


def test_blocks_are_nested_clusters():
    dot = run_cli("graph", "googlenet").out
    clusters = re.findall(r'subgraph "cluster_([^"]+)"', dot)
    modules = [c for c in clusters if "." not in c]
    assert modules == [f"inception{n}" for n in ("5b", "5a", "4e", "4d", "4c", "4b", "4a", "3b", "3a")]
    assert len([c for c in clusters if c.count(".") == 1]) == 9 * 4  # four branches each
    assert 'label="inception3a: inception(64, 96, 128, 16, 32, 32)"' in dot
    assert dot.count("{") == dot.count("}")


def test_depth_folds_scopes_like_summary():
    model = cnndsl.load("resnet50")
    view = build_view(model.graph, depth=1)
    folded = [node for node in view.nodes.values() if node.family == "block"]
    # stem and head are shallow enough to show their ops; the 16 bottlenecks fold.
    blocks = {1: 3, 2: 4, 3: 6, 4: 3}  # He et al.'s ResNet-50
    expected = [f"layer{stage}.bottleneck{j}" for stage, count in blocks.items() for j in range(1, count + 1)]
    assert [n.id for n in folded] == expected
    first = view.nodes["layer2.bottleneck1"]
    assert first.lines == ["bottleneck1: bottleneck(128, stride=2)", "512x28x28", "379,392 params", "12 ops"]
    summary_rows = {row.name: row for row in model.stats(depth=1).rows}
    assert summary_rows["layer2.bottleneck1"].params == 379_392
    depth0 = build_view(model.graph, depth=0)
    top_level = ["input", "stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert [n.id for n in depth0.nodes.values()] == top_level
    assert depth0.edges == list(zip(top_level, top_level[1:]))


def test_mermaid():
    model = cnndsl.load("googlenet")
    text = to_mermaid(build_view(model.graph, depth=1))
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert sum(line.strip().startswith("subgraph ") for line in lines) == 9
    assert sum(line.strip() == "end" for line in lines) == 9
    assert 'subgraph s0["inception3a: inception(64, 96, 128, 16, 32, 32)"]' in text
    assert sum(" --> " in line for line in lines) == len(build_view(model.graph, depth=1).edges)
    assert "<br/>" in text and '"' not in text.replace('["', "").replace('"]', "")


def test_output_file_and_format_from_suffix(tmp_path):
    out = tmp_path / "lenet.mmd"
    assert run_cli("graph", "lenet5", "-o", str(out)).code == 0
    assert out.read_text().startswith("flowchart TD\n")
    dot = tmp_path / "lenet.gv"
    assert run_cli("graph", "lenet5", "-o", str(dot)).code == 0
    assert dot.read_text().startswith('digraph "lenet5" {')


def test_refuses_to_overwrite_the_source(tmp_path):
    source = tmp_path / "net.cnn"
    text = "network net {\n    input 1x8x8\n    conv 2 3x3\n}\n"
    source.write_text(text)
    for target in (source, tmp_path / "other.cnn"):
        result = run_cli("graph", str(source), "-o", str(target))
        assert result.code == 2 and "refusing" in result.err
    assert source.read_text() == text
    assert not (tmp_path / "other.cnn").exists()


def test_png_needs_a_file_and_bad_depth_is_a_usage_error():
    assert run_cli("graph", "lenet5", "--format", "png").code == 2
    result = run_cli("graph", "lenet5", "--depth", "-1")
    assert result.code == 2 and "--depth" in result.err


def test_missing_graphviz_is_a_clear_usage_error(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = run_cli("graph", "lenet5", "-o", str(tmp_path / "lenet.svg"))
    assert result.code == 2
    assert "graphviz" in result.err and "--format dot" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "lenet.svg").exists()


def test_errors_in_the_network_are_diagnostics(tmp_path):
    source = tmp_path / "bad.cnn"
    source.write_text("network bad {\n    input 1x4x4\n    conv 2 5x5\n}\n")
    result = run_cli("graph", str(source), "-o", str(tmp_path / "bad.dot"))
    assert result.code == 1 and "bad.cnn:3:12: error: kernel 5x5 does not fit" in result.err
    assert not (tmp_path / "bad.dot").exists()


@needs_graphviz
def test_svg_and_png(tmp_path):
    svg = tmp_path / "resnet.svg"
    assert run_cli("graph", "resnet18", "--depth", "1", "-o", str(svg)).code == 0
    root = ElementTree.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "basic1: basic(128, stride=2)" in svg.read_text()
    png = tmp_path / "lenet.png"
    assert run_cli("graph", "lenet5", "--format", "png", "-o", str(png)).code == 0
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@needs_graphviz
def test_concat_branches_are_drawn_in_source_order():
    dot = run_cli("graph", "googlenet").out
    layout = subprocess.run(["dot", "-Tplain"], input=dot, capture_output=True, text=True, check=True).stdout
    x = {}
    for line in layout.splitlines():
        parts = line.split()
        if parts[0] == "node":
            x[parts[1].strip('"')] = float(parts[2])
    for module in ("inception3a", "inception4c", "inception5b"):
        firsts = [f"{module}.branch{i}.conv1" for i in (1, 2, 3)] + [f"{module}.branch4.maxpool1"]
        assert [x[node] for node in firsts] == sorted(x[node] for node in firsts), module
