"""The lecture's worked shape and parameter examples, each written as a .cnn snippet."""

import pytest

import cnndsl


def layer(model: cnndsl.Model, index: int = -1):
    """A row of the model's per-op table (the input is not a row)."""
    return model.layers[index]


def test_six_by_six_image_convolved_with_three_by_three_filter_gives_four_by_four():
    model = cnndsl.loads("network edge { input 1x6x6; conv 1 3x3 }")
    assert model.output_shape == (1, 4, 4)


@pytest.mark.parametrize(("kernel", "padding"), [(3, 1), (5, 2)])
def test_same_padding_is_f_minus_one_over_two_and_keeps_the_size(kernel, padding):
    # The lecture: p = (f - 1)/2, so 3x3 needs p = 1 and 5x5 needs p = 2.
    source = "network same(f) { input 1x6x6; conv 1 (f, f) pad=(f - 1) / 2 }"
    model = cnndsl.loads(source, f=kernel)
    node = model.graph.nodes[layer(model).name]
    assert node["attrs"]["pads"] == (padding,) * 4
    assert model.output_shape == (1, 6, 6)
    # `pad=same` finds the same padding by itself.
    same = cnndsl.loads("network same(f) { input 1x6x6; conv 1 (f, f) pad=same }", f=kernel)
    assert same.graph.nodes[layer(same).name]["attrs"]["pads"] == (padding,) * 4
    assert same.output_shape == (1, 6, 6)


def test_seven_by_seven_with_three_by_three_filter_and_stride_two_gives_three_by_three():
    # floor((n + 2p - f)/s) + 1 = floor((7 + 0 - 3)/2) + 1 = 3
    model = cnndsl.loads("network strided { input 1x7x7; conv 1 3x3 stride=2 }")
    assert model.output_shape == (1, 3, 3)


def test_output_size_formula_rounds_down():
    # floor((6 + 2*1 - 3)/2) + 1 = floor(2.5) + 1 = 3
    model = cnndsl.loads("network odd { input 1x6x6; conv 1 3x3 stride=2 pad=1 }")
    assert model.output_shape == (1, 3, 3)


def test_volume_six_by_six_by_three_with_two_filters_gives_four_by_four_by_two():
    model = cnndsl.loads("network volume { input 3x6x6; conv 2 3x3 }")
    assert model.output_shape == (2, 4, 4)
    # Each filter spans all three channels: 3x3x3 weights and one bias, two filters.
    assert model.params == 2 * (3 * 3 * 3 + 1)


def test_ten_three_by_three_by_three_filters_with_bias_have_280_parameters():
    model = cnndsl.loads("network ten { input 3x32x32; conv 10 3x3 }")
    assert model.params == 280
    # The count does not depend on the image size: that is what makes convolutions cheap.
    bigger = cnndsl.loads("network ten { input 3x1000x1000; conv 10 3x3 }")
    assert bigger.params == 280


def test_pooling_has_no_parameters():
    model = cnndsl.loads("network pools { input 3x8x8; maxpool 2x2 stride=2; avgpool 2x2 stride=2 }")
    assert [row.params for row in model.layers] == [0, 0]
    assert model.params == 0


def test_max_pool_two_by_two_stride_two_halves_four_by_four():
    model = cnndsl.loads("network pool { input 1x4x4; maxpool 2x2 stride=2 }")
    assert model.output_shape == (1, 2, 2)


def test_pooling_keeps_the_channels():
    model = cnndsl.loads("network pool { input 16x10x10; maxpool 2x2 stride=2 }")
    assert model.output_shape == (16, 5, 5)


def test_one_by_one_convolution_shrinks_the_channels():
    # The lecture: a 1x1 convolution reduces the channels and keeps height and width.
    model = cnndsl.loads("network shrink { input 192x28x28; conv 32 1x1 }")
    assert model.output_shape == (32, 28, 28)
    assert model.params == 32 * 192 + 32
