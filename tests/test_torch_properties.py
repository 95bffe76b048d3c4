"""Random convolutions and poolings: the compiled layer equals the op's definition, window by window.

Hypothesis draws sizes, strides, dilations, groups and every padding form (`same`, `valid`,
N, (h, w), (top, bottom, left, right)) with ceil rounding and count_pad; the oracle computes
each output from the IR's own padding and output size, without PyTorch's pooling layers.
"""

from __future__ import annotations

import pytest

import cnndsl

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

F = torch.nn.functional
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)

pads = st.one_of(
    st.sampled_from(["same", "valid"]),
    st.integers(0, 2).map(str),
    st.tuples(st.integers(0, 2), st.integers(0, 2)).map(lambda p: f"({p[0]}, {p[1]})"),
    st.tuples(*[st.integers(0, 2)] * 4).map(lambda p: "({}, {}, {}, {})".format(*p)),
)


def compile_one(layer: str, channels: int, height: int, width: int):
    try:
        model = cnndsl.loads(f"network n {{\n input {channels}x{height}x{width}\n {layer}\n}}")
    except cnndsl.CnnError:
        assume(False)  # an invalid combination: the front end's business, not this test's
    node = next(n for n, d in model.graph.nodes(data=True) if d["op"] != "input")
    return model, model.graph.nodes[node], model.build("torch").eval()


@SETTINGS
@given(
    size=st.tuples(st.integers(3, 10), st.integers(3, 10)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    pad=pads,
)
def test_random_convolution_equals_explicitly_padded_conv2d(size, kernel, stride, dilation, groups, pad):
    shape = f"{kernel[0]}x{kernel[1]}"
    layer = f"conv {2 * groups} {shape} stride={stride} dilation={dilation} groups={groups} pad={pad}"
    model, data, module = compile_one(layer, 2 * groups, *size)
    top, bottom, left, right = data["attrs"]["pads"]
    x = torch.randn(2, 2 * groups, *size)
    conv = module.conv1
    expected = F.conv2d(
        F.pad(x, (left, right, top, bottom)), conv.weight, conv.bias, stride, 0, dilation, groups
    )
    with torch.no_grad():
        out = module(x)
    assert tuple(out.shape[1:]) == model.output_shape
    torch.testing.assert_close(out, expected)


def pooled(x, kind: str, kernel, stride, pads, out_shape, count_pad: bool):
    """Each output window from the definition: window i starts at i*stride - pad_before."""
    top, bottom, left, right = pads
    _, _, height, width = x.shape
    out = torch.empty(*x.shape[:2], *out_shape)
    for i in range(out_shape[0]):
        for j in range(out_shape[1]):
            r0, c0 = i * stride[0] - top, j * stride[1] - left
            r1, c1 = r0 + kernel[0], c0 + kernel[1]
            window = x[..., max(r0, 0) : min(r1, height), max(c0, 0) : min(c1, width)]
            if kind == "max":
                out[..., i, j] = window.amax(dim=(-2, -1))
            else:
                # count_pad: the window clipped to the padded input; else the real pixels only
                rows = min(r1, height + bottom) - max(r0, -top) if count_pad else window.shape[-2]
                cols = min(c1, width + right) - max(c0, -left) if count_pad else window.shape[-1]
                out[..., i, j] = window.sum(dim=(-2, -1)) / (rows * cols)
    return out


@SETTINGS
@given(
    size=st.tuples(st.integers(2, 9), st.integers(2, 9)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    kind=st.sampled_from(["max", "avg"]),
    ceil=st.booleans(),
    count_pad=st.booleans(),
    pad=pads,
)
def test_random_pooling_equals_its_definition(size, kernel, stride, kind, ceil, count_pad, pad):
    extra = f" count_pad={str(count_pad).lower()}" if kind == "avg" else ""
    layer = (
        f"{kind}pool {kernel[0]}x{kernel[1]} stride=({stride[0]}, {stride[1]}) pad={pad}"
        f" ceil={str(ceil).lower()}{extra}"
    )
    model, data, module = compile_one(layer, 3, *size)
    x = torch.randn(2, 3, *size)
    expected = pooled(x, kind, kernel, stride, data["attrs"]["pads"], model.output_shape[1:], count_pad)
    with torch.no_grad():
        out = module(x)
    assert tuple(out.shape[1:]) == model.output_shape
    torch.testing.assert_close(out, expected)
