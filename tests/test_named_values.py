"""Named values, `output a, b` and `crop like=`: shapes, counts, scoping, summary, graph and fmt.

The backends' side (torch, NumPy, codegen, ONNX) is in test_named_values_backends.py.
"""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.formatter import format_text
from cnndsl.graph_render import to_mermaid
from cnndsl.graph_view import build_view

SMALL_UNET = """\
block double(channels) {
    conv channels 3x3; relu
    conv channels 3x3; relu
}

network small_unet {
    input 1x60x60
    enc1: double(8)
    maxpool 2
    enc2: double(16)
    maxpool 2
    double(32)
    up2: conv 16 1x1
    concat {
        branch from enc2 { crop like=up2 }
        branch { }
    }
    double(16)
    segment: conv 2 1x1
    from enc2
    globalavgpool
    flatten
    classify: fc 3
    output segment, classify
}
"""

ONE_OUTPUT = """\
network one {
    input 3x8x8
    conv 4 3x3
    flatten
    fc 2
}
"""


def errors(text: str) -> list[str]:
    with pytest.raises(CnnError) as caught:
        cnndsl.loads(text, "t.cnn")
    return [f"{d.span.line}:{d.span.column}: {d.message}" for d in caught.value.diagnostics]


def test_small_unet_shapes_and_counts():
    model = cnndsl.loads(SMALL_UNET, "u.cnn")
    assert model.output_shapes == [(2, 4, 4), (3,)]
    assert model.output_names == ["segment", "classify"]
    assert model.output_shape == (2, 4, 4)  # the first output, as for one-output networks
    graph = model.graph
    crop = graph.nodes["branch1.crop1"]
    # enc2 is 16x24x24; up2 is 16x8x8: the centre 8x8 window starts at (8, 8).
    assert crop["inputs"] == ["enc2.relu2"] and crop["shape"] == (16, 8, 8)
    assert crop["attrs"]["offset"] == (8, 8) and crop["params"] == crop["macs"] == 0
    assert graph.nodes["concat1"]["inputs"] == ["branch1.crop1", "up2"]
    assert graph.nodes["globalavgpool1"]["inputs"] == ["enc2.relu2"]
    assert graph.graph["outputs"] == ["segment", "classify"]
    rows = model.layers
    assert sum(r.params for r in rows) == model.params == 25_597
    assert model.params == sum(
        (k * k * cin + 1) * cout
        for k, cin, cout in [(3, 1, 8), (3, 8, 8), (3, 8, 16), (3, 16, 16), (3, 16, 32), (3, 32, 32),
                             (1, 32, 16), (3, 32, 16), (3, 16, 16), (1, 16, 2)]
    ) + 16 * 3 + 3


def test_one_output_is_unchanged():
    model = cnndsl.loads(ONE_OUTPUT, "one.cnn")
    assert model.output_names == [model.graph.graph["outputs"][0]] == ["fc1"]
    assert "output_names" not in model.graph.graph
    assert "outputs" not in json.loads(model.summary("json"))


def test_summary_shows_every_output():
    model = cnndsl.loads(SMALL_UNET, "u.cnn")
    data = json.loads(model.summary("json"))
    assert data["output_shape"] == [2, 4, 4]
    assert data["outputs"] == [{"name": "segment", "shape": [2, 4, 4]}, {"name": "classify", "shape": [3]}]
    assert "input 1x60x60 -> outputs segment 2x4x4, classify 3" in model.summary("table").splitlines()[0]
    assert "Input 1x60x60, outputs segment 2x4x4, classify 3." in model.summary("markdown")


def test_graph_marks_each_output():
    model = cnndsl.loads(SMALL_UNET, "u.cnn")
    view = build_view(model.graph)
    assert view.title.startswith("small_unet: 1x60x60 -> 2x4x4, 3,")
    assert view.nodes["segment"].lines[-1] == "output segment"
    assert view.nodes["classify"].lines[-1] == "output classify"
    assert ("enc2.relu2", "branch1.crop1") in view.edges
    assert "crop 8x8" in to_mermaid(view)


def test_check_and_summary_commands(tmp_path):
    (tmp_path / "u.cnn").write_text(SMALL_UNET)
    check = run_cli("check", "u.cnn", cwd=tmp_path)
    assert check.code == 0 and "small_unet 1x60x60 -> 2x4x4, 3," in check.out
    summary = run_cli("summary", "u.cnn", "--format", "json", cwd=tmp_path)
    assert json.loads(summary.out)["outputs"][1] == {"name": "classify", "shape": [3]}


def test_input_names_the_network_or_block_input():
    model = cnndsl.loads(
        """
        block side() { conv 4 1x1; from input; conv 2 1x1 }
        network n {
            image: input 3x8x8
            conv 5 3x3 pad=1
            side()
            concat { branch from image { } branch from input { } branch { } }
        }
        """,
        "n.cnn",
    )
    graph = model.graph
    assert graph.nodes["side1.conv2"]["inputs"] == ["conv1"]  # the block's input, not the network's
    assert graph.nodes["concat1"]["inputs"] == ["image", "image", "side1.conv2"]
    assert model.output_shape == (8, 8, 8)


def test_labelled_block_call_names_its_output_and_like_takes_any_size():
    model = cnndsl.loads(
        """
        block stage(c) { conv c 3x3 pad=1; maxpool 2 }
        network n {
            input 3x32x32
            s1: stage(4)
            s2: stage(8)
            from s1
            adaptiveavgpool like=s2
        }
        """,
        "n.cnn",
    )
    assert model.graph.nodes["adaptiveavgpool1"]["inputs"] == ["s1.maxpool1"]
    assert model.output_shape == (4, 8, 8)


def test_names_inside_nested_bodies_see_outer_names():
    model = cnndsl.loads(
        """
        network n {
            input 3x16x16
            stem: conv 8 3x3 pad=1
            residual { conv 8 3x3 pad=1; inner: relu; concat { branch from stem { } branch from inner { } }
                       conv 8 1x1 }
        }
        """,
        "n.cnn",
    )
    assert model.graph.nodes["concat1"]["inputs"] == ["stem", "inner"]


def test_scoping_errors_are_located_and_reported_together():
    found = errors(
        """network n {
    input 3x16x16
    from later
    a: conv 8 3x3
    concat { branch { b: relu } branch from b { } }
    repeat 1 { c: relu }
    from c
    from aa
    later: relu
}
"""
    )
    assert found == [
        "3:10: the value 'later' is used before it exists: it is defined at line 9, after this statement",
        "5:45: the value 'b' (line 5) cannot be seen from here: a name given inside a branch, residual, "
        "shortcut or repeat body is visible only inside that body",
        "7:10: the value 'c' (line 6) cannot be seen from here: a name given inside a branch, residual, "
        "shortcut or repeat body is visible only inside that body",
        "8:10: unknown value 'aa' (did you mean 'a'?)",
    ]


def test_like_errors():
    found = errors(
        """network n {
    input 3x16x16
    v: flatten
    from input
    conv 4 3x3 like=input
    crop like=v
    crop like=(2, 2)
}
"""
    )
    assert found == [
        "5:16: conv has no size to take from another value; like= works with adaptiveavgpool, crop, upsample",
        "6:15: like=v needs a CxHxW value, but 'v' is 768",
        "7:15: like= takes the name of a value, e.g. like=enc4",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "network n {\n    input 1x8x8\n    a: conv 2 1x1\n    from input; relu\n"
        "    concat {\n        branch from a { }\n        branch { }\n    }\n    output a, relu1\n}\n",
        SMALL_UNET,
    ],
)
def test_fmt_keeps_the_new_statements_stable(text):
    assert format_text(text) == text


def test_fmt_spaces_the_new_statements():
    messy = "network n {\n input 1x8x8\n a:conv 2 1x1\n from   input\n concat { branch  from a {}\n branch { } }\n output a,concat1\n}\n"  # noqa: E501
    assert format_text(messy) == (
        "network n {\n    input 1x8x8\n    a: conv 2 1x1\n    from input\n    concat {\n"
        "        branch from a { }\n        branch { }\n    }\n    output a, concat1\n}\n"
    )


def test_keywords_stay_usable_as_parameter_names():
    model = cnndsl.loads("network n(output=4, from=2) {\n input 1x8x8\n conv output from\n}\n", "n.cnn")
    assert model.output_shape == (4, 7, 7)
