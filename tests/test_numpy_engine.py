"""The NumPy engine's contract: state dicts, input checks, batches, buffers, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import cnndsl
from cnndsl.errors import CnnUsageError


@pytest.fixture(scope="module")
def resnet18():
    return cnndsl.load("resnet18")


def test_state_dict_layout_matches_pytorch_naming(resnet18):
    state = resnet18.build("numpy").state_dict()
    assert state["stem.conv1.weight"].shape == (64, 3, 7, 7)
    assert state["layer3.basic2.conv1.weight"].shape == (256, 256, 3, 3)
    assert state["head.fc1.weight"].shape == (1000, 512) and state["head.fc1.bias"].shape == (1000,)
    assert state["stem.batchnorm1.num_batches_tracked"].dtype == np.int64
    assert "stem.conv1.bias" not in state  # bias=false
    with pytest.raises(ValueError):
        state["head.fc1.bias"][0] = 1.0  # read-only: changes go through load_state_dict


def test_default_init_follows_pytorch_bounds(resnet18):
    state = resnet18.build("numpy", seed=0).state_dict()
    fc = state["head.fc1.weight"]
    bound = 1 / np.sqrt(512)
    assert np.abs(fc).max() <= bound and np.abs(fc).max() > 0.95 * bound
    assert np.all(state["stem.batchnorm1.running_var"] == 1)


def test_same_seed_same_weights(resnet18):
    first, second = resnet18.build("numpy", seed=5), resnet18.build("numpy", seed=5)
    assert all(np.array_equal(first.state_dict()[k], v) for k, v in second.state_dict().items())


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, [1, 2]])
def test_bad_seed_is_a_usage_error(seed):
    model = cnndsl.loads("network tiny {\n input 1x4x4\n conv 2 3x3\n}")
    with pytest.raises(CnnUsageError, match="seed must be a non-negative integer"):
        model.build("numpy", seed=seed)


def test_good_seeds_build():
    model = cnndsl.loads("network tiny {\n input 1x4x4\n conv 2 3x3\n}")
    for seed in (None, 0, np.int64(3), 2**100):
        model.build("numpy", seed=seed)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s.pop("layer1.basic1.conv2.weight"),
            "'layer1.basic1.conv2.weight' is missing from the state dict",
        ),
        (lambda s: s.update(extra=np.zeros(1)), "'extra' in the state dict is not used by this network"),
        (
            lambda s: s.update({"head.fc1.weight": np.zeros((10, 512), np.float32)}),
            "'head.fc1.weight' in the state dict has the shape (10, 512), but the network needs (1000, 512)",
        ),
    ],
)
def test_load_state_dict_names_the_first_offending_key(resnet18, change, message):
    net = resnet18.build("numpy")
    state = dict(net.state_dict())
    change(state)
    with pytest.raises(CnnUsageError) as error:
        net.load_state_dict(state)
    assert message in error.value.message


def test_state_dict_loads_back_any_number_of_times(resnet18):
    """The 0-d batchnorm counter stays 0-d: np.ascontiguousarray once made it (1,) on the way in."""
    net = resnet18.build("numpy")
    for _ in range(3):
        net.load_state_dict(net.state_dict())
    assert net.state_dict()["stem.batchnorm1.num_batches_tracked"].shape == ()


@pytest.mark.parametrize(
    ("counter", "accepted"),
    [
        (7, True),  # a plain number
        (np.float64(7.0), True),
        (np.array([7]), True),  # torch's load_state_dict accepts a 1-element counter from older files
        (np.array([7, 8]), False),
        (np.zeros((1, 1)), False),
        ("seven", False),
        (object(), False),
    ],
)
def test_batchnorm_counter_takes_scalars(counter, accepted):
    net = cnndsl.loads("network tiny {\n input 3x8x8\n conv 4 3x3; batchnorm; relu\n}").build("numpy")
    state = dict(net.state_dict())
    state["batchnorm1.num_batches_tracked"] = counter
    if accepted:
        net.load_state_dict(state)
        loaded = net.state_dict()["batchnorm1.num_batches_tracked"]
        assert loaded.shape == () and loaded.dtype == np.int64 and loaded == 7
    else:
        with pytest.raises(CnnUsageError, match="'batchnorm1.num_batches_tracked' in the state dict"):
            net.load_state_dict(state)


def test_loading_weights_changes_the_output(resnet18):
    net = resnet18.build("numpy", seed=0)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    before = net(x)
    net.load_state_dict(resnet18.build("numpy", seed=1).state_dict())
    assert not np.allclose(before, net(x))
    np.testing.assert_array_equal(net(x), resnet18.build("numpy", seed=1)(x))


@pytest.mark.parametrize(
    ("x", "found"),
    [
        (np.zeros((1, 3, 32, 32), np.float32), "found shape (1, 3, 32, 32)"),
        (np.zeros((3, 224, 224), np.float32), "found shape (3, 224, 224)"),
        (np.zeros((1, 3, 224, 224), np.float64), "found dtype float64"),
        ([[1.0]], "found list"),
    ],
)
def test_wrong_input_names_the_expected_shape(resnet18, x, found):
    with pytest.raises(CnnUsageError) as error:
        resnet18.build("numpy")(x)
    assert "a float32 array of shape (N, 3, 224, 224)" in error.value.message
    assert found in error.value.message


def test_batch_items_are_independent_and_outputs_fresh():
    model = cnndsl.load("googlenet")
    net = model.build("numpy", seed=0)
    x = np.random.default_rng(1).standard_normal((3, 3, 224, 224)).astype(np.float32)
    together = net(x)
    alone = [net(x[i : i + 1]) for i in range(3)]  # another batch size: another set of buffers
    np.testing.assert_allclose(together, np.concatenate(alone), rtol=1e-5, atol=1e-7)
    again = net(x)
    np.testing.assert_array_equal(again, together)  # buffers reused, results unchanged
    again[:] = 0
    np.testing.assert_array_equal(net(x[:1]), alone[0])  # the returned array is the caller's


def test_fused_and_unfused_plans_agree():
    model = cnndsl.load("resnet18")
    x = np.random.default_rng(2).standard_normal((1, 3, 224, 224)).astype(np.float32)
    fused, plain = model.build("numpy", seed=0), model.build("numpy", seed=0, fuse=False)
    assert len(fused.steps) < len(plain.steps)
    np.testing.assert_allclose(fused(x), plain(x), rtol=1e-4, atol=1e-6)


def test_scratch_memory_stays_bounded():
    """Chunking keeps im2col's scratch to a few MB (a whole-image im2col of conv1_2 is 110 MB)."""
    net = cnndsl.load("vgg16").build("numpy", conv_algorithm="im2col")
    arena_workspace = max(layer.needs(1).workspace for layer in net.layers) * 4
    assert arena_workspace <= 8 << 20


def test_unknown_options_are_refused():
    model = cnndsl.load("lenet5")
    with pytest.raises(CnnUsageError, match="no option colour"):
        model.build("numpy", colour="red")
    with pytest.raises(CnnUsageError, match="conv_algorithm must be one of"):
        model.build("numpy", conv_algorithm="fft")


def test_check_and_summary_do_not_import_numpy():
    code = (
        "import sys\n"
        "from cnndsl.cli import main\n"
        "main(['check', 'resnet50']); main(['summary', 'googlenet'])\n"
        "assert 'numpy' not in sys.modules, 'numpy was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("activation", ["relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid"])
def test_activations_fuse_into_the_conv_before(activation):
    """conv; batchnorm; ACT is one step, and equals the three ops run one by one."""
    model = cnndsl.loads(
        "network fused {\n input 8x9x9\n conv 8 3x3 stride=2 pad=1 groups=8; batchnorm; "
        f"{activation}\n conv 12 1x1; batchnorm; {activation}\n}}"
    )
    fused, plain = model.build("numpy", seed=0), model.build("numpy", seed=0, fuse=False)
    assert [step.activation for step in fused.steps] == [activation, activation]
    x = np.random.default_rng(2).standard_normal((2, 8, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(fused(x), plain(x), rtol=1e-5, atol=1e-6)


def test_logits_keep_a_trailing_sigmoid_out_of_the_conv():
    model = cnndsl.loads("network head {\n input 4x5x5\n conv 3 1x1; sigmoid\n}")
    raw = model.build("numpy", seed=0, logits=True)
    assert [step.activation for step in raw.steps] == [None]
    x = np.random.default_rng(0).standard_normal((1, 4, 5, 5)).astype(np.float32)
    probabilities = model.build("numpy", seed=0)(x)
    np.testing.assert_allclose(1 / (1 + np.exp(-raw(x))), probabilities, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("channels", [5, 400])  # window rows at once, and pixel by pixel
@pytest.mark.parametrize(("stride", "dilation"), [((1, 1), (1, 1)), ((2, 2), (1, 1)), ((2, 3), (2, 1))])
def test_depthwise_blocks_of_rows_agree_with_one_block(stride, dilation, channels):
    """A budget of one output row at a time gives what one whole-image block gives, and the definition."""
    from cnndsl.backends.numpy_engine import conv_kernels

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 15, 14, channels)).astype(np.float32)
    weight = rng.standard_normal((channels, 1, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(channels).astype(np.float32)
    out_rows = conv_kernels.output_size(15, 3, stride[0], 0, 0, dilation[0])
    out_columns = conv_kernels.output_size(14, 3, stride[1], 0, 0, dilation[1])
    taps, row_bias = conv_kernels.pack_depthwise(weight, bias, out_columns)
    results = []
    for budget in (1, 1 << 30):
        out = np.empty((2, out_rows, out_columns, channels), np.float32)
        conv_kernels.conv_depthwise(x, taps, row_bias, stride, dilation, out, budget=budget)
        results.append(out)
    expected = np.zeros_like(results[0])
    for i in range(3):
        for j in range(3):
            top, left = i * dilation[0], j * dilation[1]
            window = x[:, top : top + stride[0] * (out_rows - 1) + 1 : stride[0]]
            window = window[:, :, left : left + stride[1] * (out_columns - 1) + 1 : stride[1]]
            expected += window * weight[:, 0, i, j]
    np.testing.assert_allclose(results[0], expected + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-6)


def test_fusion_looks_past_dropout_and_drop_path():
    """EfficientNet's conv -> batchnorm -> droppath -> residual add is one step, as without droppath."""
    model = cnndsl.loads(
        "network mb {\n input 8x6x6\n residual { conv 8 1x1; batchnorm; droppath 0.2 }\n"
        " conv 8 1x1; dropout 0.5; batchnorm; dropout 0.1; relu6\n}"
    )
    net = model.build("numpy", seed=0)
    assert [(step.op, step.shortcut is not None, step.activation) for step in net.steps] == [
        ("conv", True, None),
        ("conv", False, "relu6"),
    ]
    x = np.random.default_rng(1).standard_normal((2, 8, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(net(x), model.build("numpy", seed=0, fuse=False)(x), rtol=1e-5, atol=1e-6)


def test_depthwise_threads_change_nothing(monkeypatch):
    """Depthwise blocks dealt out to threads give the very numbers one thread gives."""
    model = cnndsl.loads(
        "network dw {\n input 16x30x30\n conv 16 3x3 pad=1 groups=16; relu6\n"
        " conv 16 5x5 stride=2 pad=2 groups=16\n}"
    )
    x = np.random.default_rng(3).standard_normal((2, 16, 30, 30)).astype(np.float32)
    results = []
    for threads in ("1", "3"):
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", threads)
        net = model.build("numpy", seed=0)
        assert net.threads == int(threads)
        results.append(net(x))
    np.testing.assert_array_equal(results[0], results[1])
