"""upsample, convtranspose, pixelshuffle and channelshuffle against PyTorch's own modules.

Hypothesis draws arguments, valid or not: cnndsl must accept exactly what PyTorch's module
accepts, give the shape it gives and count the parameters it holds. Then the generated NumPy
module and the ONNX export are checked against the engine and PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli

import cnndsl
from cnndsl.plugins import get_backend

torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

nn = torch.nn
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def compiled(layer: str, shape: tuple[int, int, int]) -> cnndsl.Model | None:
    """The one-layer network, or None when cnndsl refuses it (with a diagnostic, never a crash)."""
    try:
        return cnndsl.loads(f"network n {{\n input {'x'.join(map(str, shape))}\n {layer}\n}}")
    except cnndsl.CnnError:
        return None


def torch_result(module_or_function, shape):
    """The reference and its output for a random input; (None, None) when PyTorch refuses the
    arguments or returns an empty output (cnndsl refuses that: no size may be 0)."""
    try:
        module = module_or_function()
        with torch.no_grad():
            y = module(torch.randn(2, *shape))
    except (ValueError, RuntimeError):
        return None, None
    return (module, y) if y.numel() else (None, None)


@SETTINGS
@given(
    shape=st.tuples(st.sampled_from([1, 2, 4, 6]), st.integers(1, 6), st.integers(1, 6)),
    out_per_group=st.integers(1, 3),
    groups=st.sampled_from([1, 2]),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    pad=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    bias=st.booleans(),
)
def test_convtranspose_accepts_shapes_and_counts_as_pytorch(
    shape, out_per_group, groups, kernel, stride, pad, extra, dilation, bias
):
    out = out_per_group * groups
    layer = (
        f"convtranspose {out} {kernel} stride={stride} pad={pad} output_padding={extra} "
        f"dilation={dilation} groups={groups} bias={str(bias).lower()}"
    )
    model = compiled(layer, shape)
    reference, y = torch_result(
        lambda: nn.ConvTranspose2d(shape[0], out, kernel, stride, pad, extra, groups, bias, dilation), shape
    )
    assert (model is None) == (y is None), (layer, shape)
    if model is None:
        return
    assert model.output_shape == tuple(y.shape[1:])
    assert model.params == sum(p.numel() for p in reference.parameters())
    # One multiply-add per weight and input pixel (the bias is not a multiply).
    assert model.macs == reference.weight.numel() * shape[1] * shape[2]
    module = model.build("torch").eval()
    module.load_state_dict({f"convtranspose1.{k}": v for k, v in reference.state_dict().items()})
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x))


scales = st.one_of(
    st.integers(1, 3).map(str),
    st.sampled_from(["1.5", "0.5", "2.5", "(2, 1.5)", "(1, 3)", "2x3"]),
)


@SETTINGS
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(1, 8)),
    how=st.one_of(scales, st.tuples(st.integers(1, 9), st.integers(1, 9)).map(lambda s: f"size={s}")),
    mode=st.sampled_from(["nearest", "bilinear"]),
    align=st.booleans(),
)
def test_upsample_shapes_are_pytorchs(shape, how, mode, align):
    align = align and mode == "bilinear"
    layer = f"upsample {how} mode={mode} align_corners={str(align).lower()}"
    model = compiled(layer, shape)
    if how.startswith("size="):
        size = tuple(int(v) for v in how[6:-1].split(","))
        assert model is not None and model.output_shape == (shape[0], *size)
        return
    text = how.replace("x", ",").strip("()")
    factors = tuple(float(v) for v in text.split(",")) if "," in text else (float(text),) * 2
    exact = [float(n * f) for n, f in zip(shape[1:], factors)]
    # cnndsl refuses what PyTorch would round down: a fractional size is an error, not a floor.
    assert (model is None) == any(not e.is_integer() or e < 1 for e in exact), (layer, shape)
    if model is None:
        return
    x = torch.randn(2, *shape)
    reference = nn.functional.interpolate(
        x, scale_factor=factors, mode=mode, align_corners=align if mode == "bilinear" else None
    )
    assert model.output_shape == tuple(reference.shape[1:])
    assert model.params == model.macs == 0
    with torch.no_grad():
        out = model.build("torch").eval()(x)
    if all(float(f).is_integer() for f in factors):  # the module holds the same scale_factor
        torch.testing.assert_close(out, reference)


@SETTINGS
@given(
    shape=st.tuples(st.integers(1, 12), st.integers(1, 4), st.integers(1, 4)),
    amount=st.integers(1, 4),
    kind=st.sampled_from(["pixelshuffle", "channelshuffle"]),
)
def test_shuffles_accept_and_shape_as_pytorch(shape, amount, kind):
    model = compiled(f"{kind} {amount}", shape)
    make = nn.PixelShuffle if kind == "pixelshuffle" else nn.ChannelShuffle
    reference, y = torch_result(lambda: make(amount), shape)
    assert (model is None) == (y is None), (kind, amount, shape)
    if model is not None:
        assert model.output_shape == tuple(y.shape[1:]) and model.params == model.macs == 0


NETWORK = """network resampling {
    input 8x6x5
    convtranspose 12 3x3 stride=2 pad=1 output_padding=1 groups=2; relu
    channelshuffle 3
    pixelshuffle 2
    upsample 2 mode=bilinear
    deconv 4 2x2 stride=2 dilation=(2, 1) bias=false
    upsample size=(18, 10) mode=bilinear align_corners=true
    upsample 1.5
    upsample (2, 1)
}
"""


def test_generated_numpy_module_equals_the_engine(tmp_path):
    model = cnndsl.loads(NETWORK)
    path = tmp_path / "resampling_np.py"
    path.write_text(get_backend("numpy").generate_source(model))
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - our own output
    engine, generated = model.build("numpy", seed=5), namespace["Network"](seed=5)
    x = np.random.default_rng(0).standard_normal((2, *model.input_shape)).astype(np.float32)
    np.testing.assert_array_equal(generated(x), engine(x))


def test_engine_matches_torch_on_the_combined_network():
    model = cnndsl.loads(NETWORK)
    engine = model.build("numpy", seed=1)
    module = model.build("torch").eval()
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in engine.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, *model.input_shape)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(engine(x), expected, rtol=0, atol=1e-4 * np.abs(expected).max())


@pytest.mark.slow  # the exporter traces through torch.export (~7 s on two cores)
def test_onnx_export_matches_onnxruntime(tmp_path):
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    (tmp_path / "resampling.cnn").write_text(NETWORK)
    result = run_cli("compile", "resampling.cnn", "--format", "onnx", "-o", "r.onnx", "-q", cwd=tmp_path)
    assert result.code == 0, result.err
    proto = onnx.load(str(tmp_path / "r.onnx"))
    module = cnndsl.loads(NETWORK).build("torch").eval()
    state = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in proto.graph.initializer}
    module.load_state_dict({k: v for k, v in state.items() if k in module.state_dict()})
    session = onnxruntime.InferenceSession(str(tmp_path / "r.onnx"), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 8, 6, 5)
    (out,) = session.run(["output"], {"input": x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(out), module(x), rtol=1e-4, atol=1e-4)
