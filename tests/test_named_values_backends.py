"""Several outputs and crops in the backends: torch, the NumPy engine, its codegen, ONNX, `run`."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli
from test_named_values import ONE_OUTPUT, SMALL_UNET

import cnndsl
from cnndsl.errors import CnnUsageError

torch = pytest.importorskip("torch")

# Odd margins (23x20 cropped to 9x7: 14 rows, 13 columns) so the rounding of the centre is exercised.
CROPS = """\
network crops {
    input 2x23x20
    enc: conv 4 3x3 pad=1
    conv 6 3x3 stride=2
    conv 4 3x3
    small: relu
    concat {
        branch from enc { crop like=small }
        branch { }
        branch from input { crop 9x7; conv 3 1x1 }
    }
    conv 2 1x1
}
"""


def _state(module) -> dict[str, np.ndarray]:
    return {key: value.detach().numpy() for key, value in module.state_dict().items()}


def _torch_outputs(module, x: np.ndarray):
    with torch.no_grad():
        y = module(torch.from_numpy(x))
    return tuple(part.numpy() for part in y) if isinstance(y, tuple) else y.numpy()


@pytest.mark.parametrize("source", [SMALL_UNET, CROPS], ids=["small_unet", "crops"])
def test_torch_and_numpy_agree(source):
    model = cnndsl.loads(source, "n.cnn")
    module = model.build("torch").eval()
    x = np.random.default_rng(0).standard_normal((2, *model.input_shape)).astype(np.float32)
    expected = _torch_outputs(module, x)
    network = model.build("numpy", weights=_state(module))
    got = network(x)
    several = len(model.output_names) > 1
    assert isinstance(got, tuple) == isinstance(expected, tuple) == several
    for want, have, shape in zip(expected if several else (expected,), got if several else (got,),
                                 model.output_shapes):
        assert have.shape == want.shape == (2, *shape)
        np.testing.assert_allclose(have, want, atol=1e-4, rtol=1e-4)


def test_crop_takes_the_centre_rounding_down():
    model = cnndsl.loads("network c {\n    input 1x5x6\n    crop 2x3\n}\n", "c.cnn")
    x = np.arange(30, dtype=np.float32).reshape(1, 1, 5, 6)
    want = x[:, :, 1:3, 1:4]
    np.testing.assert_array_equal(model.build("numpy")(x), want)
    np.testing.assert_array_equal(_torch_outputs(model.build("torch"), x), want)


def test_one_output_stays_a_tensor():
    model = cnndsl.loads(ONE_OUTPUT, "one.cnn")
    x = np.zeros((1, 3, 8, 8), np.float32)
    assert isinstance(model.build("torch")(torch.from_numpy(x)), torch.Tensor)
    assert isinstance(model.build("numpy")(x), np.ndarray)


def test_generated_files_return_the_outputs_in_order(tmp_path):
    from cnndsl.backends.numpy_engine.codegen import generate_source
    from cnndsl.backends.pytorch.lowering import lower
    from cnndsl.backends.pytorch.render import render_source

    model = cnndsl.loads(SMALL_UNET, "u.cnn")
    torch_text = render_source(lower(model))
    assert "def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:" in torch_text
    assert "in this order: segment, classify." in " ".join(torch_text.split())
    namespace: dict = {}
    exec(compile(torch_text, "small_unet.py", "exec"), namespace)
    module = namespace["SmallUnet"]().eval()
    x = np.random.default_rng(1).standard_normal((1, 1, 60, 60)).astype(np.float32)
    state = _state(module)
    network = model.build("numpy", weights=state)
    numpy_text = generate_source(model)
    namespace = {}
    exec(compile(numpy_text, "small_unet_np.py", "exec"), namespace)
    generated = namespace["Network"]()
    generated.load_state_dict(state)
    engine_outputs, generated_outputs = network(x), generated(x)
    for engine, standalone, from_torch in zip(engine_outputs, generated_outputs, _torch_outputs(module, x)):
        np.testing.assert_array_equal(standalone, engine)  # codegen equals the engine exactly
        np.testing.assert_allclose(standalone, from_torch, atol=1e-4, rtol=1e-4)


def test_logits_needs_one_output():
    model = cnndsl.loads(SMALL_UNET, "u.cnn")
    for backend in ("torch", "numpy"):
        with pytest.raises(CnnUsageError, match="needs a network with one output"):
            model.build(backend, logits=True)


def test_run_prints_and_saves_every_output(tmp_path):
    (tmp_path / "u.cnn").write_text(SMALL_UNET)
    for backend in ("numpy", "torch"):
        result = run_cli("run", "u.cnn", "--backend", backend, cwd=tmp_path)
        assert result.code == 0, result.err
        assert result.out.startswith("segment:\n") and "\nclassify:\n" in result.out
        assert "outputs segment (1, 2, 4, 4), classify (1, 3) in" in result.out
    saved = run_cli("run", "u.cnn", "-o", "y.npz", cwd=tmp_path)
    assert saved.code == 0, saved.err
    with np.load(tmp_path / "y.npz") as arrays:
        shapes = {name: arrays[name].shape for name in arrays.files}
    assert shapes == {"segment": (1, 2, 4, 4), "classify": (1, 3)}
    refused = run_cli("run", "u.cnn", "-o", "y.npy", cwd=tmp_path)
    assert refused.code == 2 and "--output must name an .npz file" in refused.err
    assert not (tmp_path / "y.npy").exists()
    top = run_cli("run", "u.cnn", "--top", "2", cwd=tmp_path)
    assert top.code == 2 and "--top needs a network with one output" in top.err


@pytest.mark.slow
def test_onnx_export_names_several_outputs(tmp_path):
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    (tmp_path / "u.cnn").write_text(SMALL_UNET)
    result = run_cli("compile", "u.cnn", "--format", "onnx", "-o", "u.onnx", "-q", cwd=tmp_path)
    assert result.code == 0, result.err
    proto = onnx.load(str(tmp_path / "u.onnx"))
    assert [output.name for output in proto.graph.output] == ["segment", "classify"]
    module = cnndsl.loads(SMALL_UNET, "u.cnn").build("torch").eval()
    arrays = {init.name: onnx.numpy_helper.to_array(init).copy() for init in proto.graph.initializer}
    state = {name: torch.from_numpy(array) for name, array in arrays.items()}
    module.load_state_dict({k: v for k, v in state.items() if k in module.state_dict()})
    session = onnxruntime.InferenceSession(str(tmp_path / "u.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).standard_normal((3, 1, 60, 60)).astype(np.float32)
    segment, classify = session.run(["segment", "classify"], {"input": x})
    want = _torch_outputs(module, x)
    np.testing.assert_allclose(segment, want[0], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(classify, want[1], atol=1e-4, rtol=1e-4)
