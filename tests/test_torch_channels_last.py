"""The torch backend's channels-last lowering of ConvNeXt's pointwise MLP (backends/pytorch/fusion.py)."""

from __future__ import annotations

import pytest
from cnndsl.backends.pytorch import lowering
from cnndsl.backends.pytorch.fusion import ChannelsLastRun, channels_last_runs

import cnndsl
from cnndsl.plugins import get_backend

torch = pytest.importorskip("torch")

BLOCK = """
network n {
    input 8x6x6
    residual {
        conv 8 3x3 pad=1 groups=8
        layernorm eps=1e-6
        %s
    }
}
"""
MLP = "conv 32 1x1; gelu; conv 8 1x1; layerscale 0.5"


def runs(text: str) -> dict[str, ChannelsLastRun]:
    graph = cnndsl.loads(text).graph
    order = list(graph.nodes)
    return channels_last_runs(graph, order, graph.graph["outputs"])


def test_convnext_block_is_one_run():
    (run,) = runs(BLOCK % MLP).values()
    assert [node.split(".")[-1] for node in run.nodes] == [
        "layernorm1",
        "conv2",
        "gelu1",
        "conv3",
        "layerscale1",
    ]


def test_activation_and_layerscale_are_optional():
    (run,) = runs(BLOCK % "conv 32 1x1; conv 8 1x1").values()
    assert run.activation is None and run.scale is None


@pytest.mark.parametrize(
    "mlp",
    [
        "conv 32 1x1 pad=1; gelu; conv 8 3x3",  # padding
        "conv 32 1x1 groups=2; gelu; conv 8 1x1",  # grouped
        "conv 32 1x1; gelu; conv 8 1x1 stride=2; upsample 2",  # strided
        "conv 32 1x1; gelu; conv 8 1x1 dilation=2",  # dilated
        "conv 32 1x1; softmax; conv 8 1x1",  # over dim 1, not elementwise
        "conv 32 1x1; prelu; conv 8 1x1",  # a weight per channel of dim 1
        "conv 32 3x3 pad=1; gelu; conv 8 1x1",
    ],
)
def test_convs_that_are_not_per_pixel_products_are_not_fused(mlp):
    assert runs(BLOCK % mlp) == {}


def test_a_value_read_elsewhere_is_not_fused():
    # The layernorm's output also feeds the residual sum; then the expansion's output does.
    assert runs("network n {\n input 8x6x6\n layernorm\n residual { conv 8 1x1; gelu; conv 8 1x1 }\n}") == {}
    text = "network n {\n input 8x6x6\n layernorm\n conv 8 1x1\n residual { gelu; conv 8 1x1 }\n}"
    assert runs(text) == {}


def build(text: str, fused: bool, monkeypatch) -> torch.nn.Module:
    if not fused:
        monkeypatch.setattr(lowering, "channels_last_runs", lambda *args: {})
    module = cnndsl.loads(text).build("torch")
    monkeypatch.undo()
    return module


@pytest.mark.parametrize("mlp", [MLP, "conv 32 1x1 bias=false; relu; conv 8 1x1", "conv 16 1x1; conv 8 1x1"])
def test_same_state_dict_outputs_and_gradients_as_the_unfused_lowering(mlp, monkeypatch):
    torch.manual_seed(0)
    text = BLOCK % mlp
    fused = build(text, True, monkeypatch)
    plain = build(text, False, monkeypatch)
    assert type(fused) is not type(plain)  # two different generated sources
    assert {k: v.shape for k, v in fused.state_dict().items()} == {
        k: v.shape for k, v in plain.state_dict().items()
    }
    plain.load_state_dict(fused.state_dict())
    x = torch.randn(3, 8, 6, 6)
    for mode in (True, False):  # training (droppath-free, so deterministic) and eval
        fused.train(mode), plain.train(mode)
        fused.zero_grad(), plain.zero_grad()
        out, expected = fused(x), plain(x)
        torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
        (out * expected.detach()).sum().backward()
        (expected * expected.detach()).sum().backward()
        for (name, a), (_, b) in zip(fused.named_parameters(), plain.named_parameters(), strict=True):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-6, msg=name)


def test_generated_forward_runs_the_mlp_channels_last_on_the_existing_submodules():
    text = get_backend("torch").generate_source(cnndsl.load("convnext_tiny"))
    forward = text[text.index("class ConvnextTiny") :]
    # One run per block, inside its residual: there and back, each block's own weights.
    assert forward.count(".permute(0, 2, 3, 1)\n") == 18
    assert forward.count(".permute(0, 3, 1, 2)\n") == 18
    assert "            cnblock1.layernorm1.normalized_shape,\n" in forward
    expand = "y, cnblock1.conv2.weight.flatten(1), cnblock1.conv2.bias"
    assert f"y = nn.functional.linear(\n            {expand}\n" in forward
    assert "y = y * cnblock1.layerscale1.weight\n" in forward
    assert "permute" not in get_backend("torch").generate_source(cnndsl.load("resnet18"))


def test_onnx_export_of_a_fused_block(tmp_path):
    pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")  # torch.onnx's exporter writes through it
    model = cnndsl.loads(BLOCK % MLP)
    path = tmp_path / "n.onnx"
    backend = get_backend("torch")
    backend.export(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 8, 6, 6)
    (out,) = session.run(["output"], {"input": x.numpy()})
    assert out.shape == (2, 8, 6, 6)
