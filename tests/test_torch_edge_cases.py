"""Padding PyTorch cannot express directly, literal and frozen weights, names Python reserves."""

from __future__ import annotations

import pytest
from lecture_data import EDGE_IMAGE, EDGE_MAP

import cnndsl

torch = pytest.importorskip("torch")
F = torch.nn.functional


def build(text: str, **options):
    return cnndsl.loads(text).build("torch", **options).eval()


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding, from its documentation: the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize(("size", "kernel", "stride"), [(6, 3, 2), (5, 2, 1), (7, 4, 3)])
def test_asymmetric_same_conv_matches_explicit_tf_padding(size, kernel, stride):
    before, after = tf_same_pads(size, kernel, stride)
    assert before != after  # the case PyTorch's symmetric `padding=` cannot express
    module = build(
        f"network n {{\n input 2x{size}x{size}\n conv 3 {kernel}x{kernel} stride={stride} pad=same\n}}"
    )
    x = torch.randn(2, 2, size, size)
    conv = module.conv1
    expected = F.conv2d(F.pad(x, (before, after, before, after)), conv.weight, conv.bias, stride=stride)
    with torch.no_grad():
        out = module(x)
    assert out.shape[-1] == -(-size // stride)
    torch.testing.assert_close(out, expected)


def test_asymmetric_same_max_pool_pads_with_minus_infinity():
    module = build("network n {\n input 1x6x6\n maxpool 3x3 stride=2 pad=same\n}")
    x = -torch.rand(1, 1, 6, 6) - 1  # all negative: zero padding would win every edge window
    expected = F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 3, 2)
    with torch.no_grad():
        torch.testing.assert_close(module(x), expected)


def windowed_mean(x, kernel, stride, pads, count_pad):
    """Average pooling from its definition, window by window (the oracle for odd paddings)."""
    top, bottom, left, right = pads
    padded = F.pad(x, (left, right, top, bottom))
    real = F.pad(torch.ones_like(x), (left, right, top, bottom))
    rows = (padded.shape[-2] - kernel) // stride + 1
    cols = (padded.shape[-1] - kernel) // stride + 1
    out = torch.empty(*x.shape[:2], rows, cols)
    for i in range(rows):
        for j in range(cols):
            window = (..., slice(i * stride, i * stride + kernel), slice(j * stride, j * stride + kernel))
            count = kernel * kernel if count_pad else real[window].sum(dim=(-2, -1))
            out[..., i, j] = padded[window].sum(dim=(-2, -1)) / count
    return out


@pytest.mark.parametrize("count_pad", [True, False])
def test_asymmetric_same_average_pool(count_pad):
    flag = "true" if count_pad else "false"
    module = build(f"network n {{\n input 2x6x6\n avgpool 3x3 stride=2 pad=same count_pad={flag}\n}}")
    x = torch.randn(1, 2, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(module(x), windowed_mean(x, 3, 2, (0, 1, 0, 1), count_pad))


@pytest.mark.parametrize("count_pad", [True, False])
def test_symmetric_average_pool_padding(count_pad):
    flag = "true" if count_pad else "false"
    module = build(f"network n {{\n input 2x7x7\n avgpool 3x3 stride=2 pad=1 count_pad={flag}\n}}")
    x = torch.randn(1, 2, 7, 7)
    with torch.no_grad():
        torch.testing.assert_close(module(x), windowed_mean(x, 3, 2, (1, 1, 1, 1), count_pad))


def test_ceil_pooling_with_asymmetric_padding_keeps_the_ir_shape():
    # 4 + 0 + 1 padded, window 2, stride 2, ceil: PyTorch drops a last window starting in the
    # right padding; on an explicitly padded input that window would survive, so it is cut.
    text = "network n {\n input 1x4x4\n maxpool 2x2 stride=2 pad=(0,1,0,1) ceil=true\n}"
    model = cnndsl.loads(text)
    assert model.output_shape == (1, 2, 2)
    x = torch.randn(1, 1, 4, 4)
    with torch.no_grad():
        out = model.build("torch")(x)
    torch.testing.assert_close(out, F.max_pool2d(x, 2, 2))


def test_lecture_vertical_edge_filter():
    module = build(
        "network edge {\n input 1x6x6\n"
        " conv 1 3x3 weights=[[1,0,-1],[1,0,-1],[1,0,-1]] bias=false trainable=false\n}"
    )
    image = torch.tensor(EDGE_IMAGE, dtype=torch.float32)
    expected = torch.tensor(EDGE_MAP, dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(module(image[None, None])[0, 0], expected)
    assert list(module.state_dict()) == ["conv1.weight"]


def test_literal_bias_values():
    module = build(
        "network n {\n input 2x3x3\n conv 2 1x1 weights=[[[[1]],[[0]]],[[[0]],[[1]]]] bias=[0.5, -2]\n}"
    )
    x = torch.randn(1, 2, 3, 3)
    with torch.no_grad():
        out = module(x)
    torch.testing.assert_close(out[0, 0], x[0, 0] + 0.5)
    torch.testing.assert_close(out[0, 1], x[0, 1] - 2)


def test_frozen_weights_survive_an_optimizer_step():
    module = cnndsl.loads(
        "network n {\n input 1x6x6\n conv 2 3x3 trainable=false\n relu\n flatten\n fc 3\n}"
    ).build("torch")
    frozen = module.conv1.weight.detach().clone(), module.conv1.bias.detach().clone()
    head = module.fc1.weight.detach().clone()
    assert not module.conv1.weight.requires_grad and module.fc1.weight.requires_grad
    optimizer = torch.optim.SGD(module.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    module(torch.randn(4, 1, 6, 6)).square().sum().backward()
    optimizer.step()
    assert torch.equal(module.conv1.weight, frozen[0]) and torch.equal(module.conv1.bias, frozen[1])
    assert not torch.equal(module.fc1.weight, head)


def test_literal_weights_save_and_load():
    text = "network n {\n input 1x3x3\n conv 1 3x3 weights=[[1,2,3],[4,5,6],[7,8,9]] bias=false\n}"
    module = build(text)
    other = build(text)
    with torch.no_grad():
        other.conv1.weight.zero_()
    other.load_state_dict(module.state_dict())
    assert other.conv1.weight.flatten().tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert other.conv1.weight.requires_grad  # trainable unless the source says otherwise


KITCHEN_SINK = """
network sink {
    input 4x12x12
    conv 8 3x3 pad=1 dilation=1 groups=2 bias=false; batchnorm; leakyrelu 0.2
    lrn 3 alpha=0.001 beta=0.5 k=2
    conv 8 3x3 dilation=2 pad=2; sigmoid
    avgpool 3x3 stride=2 ceil=true
    adaptiveavgpool 3x3
    globalmaxpool
    flatten
    batchnorm eps=0.001 momentum=0.2
    dropout 0.3
    fc 6 bias=false; tanh
    softmax
}
"""


def test_every_op_against_functional_pytorch():
    module = build(KITCHEN_SINK)
    s = module.state_dict()
    x = torch.randn(3, 4, 12, 12)

    def reference(x):
        x = F.conv2d(x, s["conv1.weight"], None, padding=1, groups=2)
        x = F.batch_norm(x, s["batchnorm1.running_mean"], s["batchnorm1.running_var"], s["batchnorm1.weight"],
                         s["batchnorm1.bias"], eps=1e-5)  # fmt: skip
        x = F.leaky_relu(x, 0.2)
        x = F.local_response_norm(x, 3, alpha=0.001, beta=0.5, k=2)
        x = torch.sigmoid(F.conv2d(x, s["conv2.weight"], s["conv2.bias"], padding=2, dilation=2))
        x = F.avg_pool2d(x, 3, 2, ceil_mode=True)
        x = F.adaptive_avg_pool2d(x, 3)
        x = torch.amax(x, dim=(2, 3))
        x = F.batch_norm(x, s["batchnorm2.running_mean"], s["batchnorm2.running_var"], s["batchnorm2.weight"],
                         s["batchnorm2.bias"], eps=1e-3)  # fmt: skip
        x = torch.tanh(F.linear(x, s["fc1.weight"]))
        return torch.softmax(x, dim=1)

    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x))
    assert module.batchnorm2.momentum == 0.2 and module.dropout1.p == 0.3


def test_python_keywords_as_names_work():
    module = build("network n {\n input 1x4x4\n class: conv 2 3x3\n lambda: conv 2 1x1\n}")
    assert sorted(module.state_dict()) == ["class.bias", "class.weight", "lambda.bias", "lambda.weight"]
    with torch.no_grad():
        assert module(torch.randn(1, 1, 4, 4)).shape == (1, 2, 2, 2)


@pytest.mark.parametrize("name", ["eval", "training", "forward", "input_shape"])
def test_names_that_shadow_module_attributes_are_refused(name):
    with pytest.raises(cnndsl.CnnError, match=f"'{name}' cannot name a PyTorch submodule") as caught:
        cnndsl.loads(f"network n {{\n input 1x4x4\n {name}: conv 2 3x3\n}}").build("torch")
    assert caught.value.diagnostics[0].span.line == 3


def test_unknown_or_ill_typed_build_option():
    model = cnndsl.load("lenet5")
    with pytest.raises(cnndsl.CnnError, match="no option 'logit'; its options: logits"):
        model.build("torch", logit=True)
    with pytest.raises(cnndsl.CnnError, match="takes True or False"):
        model.build("torch", logits="yes")


def test_missing_torch_is_a_clear_usage_error(monkeypatch):
    import sys

    model = cnndsl.load("lenet5")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(cnndsl.CnnError, match=r"pip install 'cnndsl\[torch\]'"):
        model.build("torch")


def test_front_end_and_plugin_lookup_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, cnndsl\n"
        "from cnndsl.plugins import get_backend\n"
        "cnndsl.load('resnet50').summary()\n"
        "get_backend('torch')\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
