"""`compile --backend numpy`: a module that imports only NumPy and computes what build("numpy") does."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import cnndsl
from cnndsl.plugins import get_backend


def load_generated(source: str, path) -> object:
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def imported_modules(source: str) -> set[str]:
    tree = ast.parse(source)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("lenet5", {}),
        ("googlenet", {}),
        ("resnet18", {}),
        ("alexnet_original", {"conv_algorithm": "winograd"}),
    ],
)
def test_generated_module_equals_the_engine(tmp_path, name, options):
    model = cnndsl.load(name)
    source = get_backend("numpy").generate_source(model, **options)
    assert imported_modules(source) == {"__future__", "numpy"}
    module = load_generated(source, tmp_path / f"{name}_np.py")
    engine = model.build("numpy", seed=3, **options)
    generated = module.Network(seed=3)  # the same default initialisation, draw for draw
    x = np.random.default_rng(0).standard_normal((2, *model.input_shape)).astype(np.float32)
    np.testing.assert_array_equal(generated(x), engine(x))
    other = model.build("numpy", seed=4, **options)
    generated.load_state_dict(dict(other.state_dict()))
    np.testing.assert_array_equal(generated(x), other(x))
    assert list(generated.state_dict()) == list(engine.state_dict())


def test_every_op_and_algorithm_compiles(tmp_path):
    source_text = """network everything {
    input 6x12x12
    conv 6 3x3 pad=1 groups=6; batchnorm; relu
    residual { conv 6 3x3 pad=same; batchnorm; leakyrelu 0.1; conv 6 1x1 }
    concat { branch { conv 4 3x3 dilation=2 pad=2 } branch { avgpool 3 stride=1 pad=1 count_pad=false } }
    lrn 3
    maxpool 3 stride=2 ceil=true
    batchnorm
    tanh
    adaptiveavgpool 3x3
    globalmaxpool
    flatten
    fc 8; batchnorm; sigmoid
    dropout 0.2
    fc 3
    softmax
}
"""
    model = cnndsl.loads(source_text)
    for algorithm in ("auto", "winograd", "im2col"):
        source = get_backend("numpy").generate_source(model, conv_algorithm=algorithm)
        module = load_generated(source, tmp_path / f"everything_{algorithm}.py")
        x = np.random.default_rng(1).standard_normal((2, 6, 12, 12)).astype(np.float32)
        engine = model.build("numpy", seed=0, conv_algorithm=algorithm)
        np.testing.assert_array_equal(module.Network(seed=0)(x), engine(x))


def test_every_new_op_compiles_to_the_engine_exactly(tmp_path):
    """Activations, norms (affine and not, image and flat), layerscale and droppath."""
    from test_modern_ops import EVERY_NEW_OP

    model = cnndsl.loads(EVERY_NEW_OP)
    source = get_backend("numpy").generate_source(model)
    assert imported_modules(source) == {"__future__", "numpy"}
    module = load_generated(source, tmp_path / "modern_np.py")
    x = np.random.default_rng(1).standard_normal((2, 8, 6, 6)).astype(np.float32)
    engine = model.build("numpy", seed=0)
    generated = module.Network(seed=0)
    assert list(generated.state_dict()) == list(engine.state_dict())
    np.testing.assert_array_equal(generated(x), engine(x))
    # Learned values away from their initial constants reach both the same way.
    rng = np.random.default_rng(2)
    state = {
        key: value + rng.normal(0, 0.3, value.shape).astype(np.float32)
        for key, value in engine.state_dict().items()
    }
    engine.load_state_dict(state)
    generated.load_state_dict(state)
    np.testing.assert_array_equal(generated(x), engine(x))


def test_logits_leave_out_the_softmax(tmp_path):
    model = cnndsl.load("lenet5")
    module = load_generated(
        get_backend("numpy").generate_source(model, logits=True), tmp_path / "lenet_logits.py"
    )
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    scores = module.Network(seed=0)(x)
    np.testing.assert_array_equal(scores, model.build("numpy", seed=0, logits=True)(x))
    probabilities = np.exp(scores) / np.exp(scores).sum()
    np.testing.assert_allclose(probabilities, model.build("numpy", seed=0)(x), rtol=1e-5)


def test_generated_module_checks_its_inputs(tmp_path):
    module = load_generated(
        get_backend("numpy").generate_source(cnndsl.load("lenet5")), tmp_path / "lenet.py"
    )
    network = module.Network()
    with pytest.raises(ValueError, match=r"\(N, 1, 32, 32\)"):
        network(np.zeros((1, 3, 32, 32), np.float32))
    state = network.state_dict()
    state["fc1.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError, match="'fc1.weight' has shape"):
        network.load_state_dict(state)


def test_compile_command_writes_network_np_py(tmp_path, cli):
    result = cli("compile", "lenet5", "--backend", "numpy", "--quiet", cwd=tmp_path)
    assert result.code == 0, result.err
    written = tmp_path / "lenet5_np.py"
    assert written.exists()
    # A fresh interpreter that never imports cnndsl runs it.
    code = (
        "import sys, numpy as np\n"
        "sys.path.insert(0, '.')\n"
        "import lenet5_np\n"
        "y = lenet5_np.Network(seed=0)(np.zeros((1, 1, 32, 32), np.float32))\n"
        "assert y.shape == (1, 10) and abs(y.sum() - 1) < 1e-5\n"
        "assert not any(name.startswith('cnndsl') for name in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_generated_module_loads_its_own_state_twice(tmp_path):
    """Batchnorm's 0-d counter stays 0-d through load_state_dict, as in the engine."""
    model = cnndsl.loads("network t {\n input 3x8x8\n conv 4 3x3; batchnorm\n}")
    source = get_backend("numpy").generate_source(model)
    network = load_generated(source, tmp_path / "t.py").Network()
    for _ in range(2):
        network.load_state_dict(network.state_dict())
    assert network.state_dict()["batchnorm1.num_batches_tracked"].shape == ()


def test_fused_activations_and_depthwise_compile_to_the_engine_exactly(tmp_path):
    """The kernels MobileNets and EfficientNets run: fused relu6/silu/hardswish, strided depthwise, SE."""
    model = cnndsl.loads(
        """network mobile {
    input 8x15x15
    conv 16 3x3 stride=2 pad=1 bias=false; batchnorm; hardswish
    conv 16 3x3 pad=1 groups=16 bias=false; batchnorm; relu6
    conv 16 5x5 stride=2 pad=2 groups=16 bias=false; batchnorm; silu
    gate { globalavgpool; conv 4 1x1; silu; conv 16 1x1; hardsigmoid }
    residual { conv 16 1x1 bias=false; batchnorm }
    relu6
    globalavgpool
    flatten
    fc 5; sigmoid
}
"""
    )
    source = get_backend("numpy").generate_source(model)
    module = load_generated(source, tmp_path / "mobile_np.py")
    x = np.random.default_rng(1).standard_normal((2, 8, 15, 15)).astype(np.float32)
    engine = model.build("numpy", seed=0)
    np.testing.assert_array_equal(module.Network(seed=0)(x), engine(x))
