"""The ONNX reader's patterns of several nodes: channel shuffle and split, channels-last layers."""

from __future__ import annotations

import numpy as np

from cnndsl.importer.graph import unsupported

# Where a value's dimensions are not N, C, H, W (keyed by ONNX value): LAST after a Transpose to
# NHWC (ConvNeXt's LayerNorm and Linear layers run there); ("split", g) and ("transposed", g)
# after the first two steps of a channel shuffle, Reshape to (N, g, C/g, H, W) and Transpose(1, 2).
LAST = ("last",)


def _eps(value: float) -> float:
    """A float32 attribute as the decimal it was written as (9.999999974752427e-07 -> 1e-06)."""
    return float(str(np.float32(value)))


class Patterns:
    """Methods of the reader (`onnx_reader._Reader`) for nodes that only make sense together."""

    def layerscale(self, node, inputs, source: str) -> None:
        """A product with one constant number per channel: ConvNeXt's layer scale."""
        scale = self.constant(next(value for value in inputs if value != source))
        channels = self.shape(source, node)[0]
        rank = len(self.shapes.get(source, ()))
        if self.layouts.get(source) == LAST:
            fits = scale is not None and scale.shape in ((channels,), (1, 1, 1, channels))
        else:
            fits = scale is not None and rank == 4 and scale.shape in ((channels, 1, 1), (1, channels, 1, 1))
        if not fits:
            raise unsupported(
                self.what(node), hint="multiplying by a constant (other than a per-channel scale)"
            )
        key = self._tensor(f"{node.output[0]}.weight", scale.reshape(channels, 1, 1))
        # The scale's initial value is not in the file: ConvNeXt's 1e-6, as the torch capture writes.
        self.emit(node, "layerscale", [source], (1e-6,), (), [("weight", key)])

    def transpose(self, node, attrs, inputs, layout) -> None:
        """NCHW <-> NHWC around channels-last layers, and the middle step of a channel shuffle."""
        perm = tuple(attrs.get("perm", ()))
        if layout is None and perm == (0, 2, 3, 1):
            after = LAST
        elif layout == LAST and perm == (0, 3, 1, 2):
            after = None
        elif layout is not None and layout[0] == "split" and perm == (0, 2, 1, 3, 4):
            after = ("transposed", layout[1])
        else:
            raise unsupported(
                self.what(node),
                hint=f"a Transpose to {list(perm)}: only NCHW to NHWC and back around channels-last "
                "layers, and a channel shuffle's [0, 2, 1, 3, 4]",
            )
        self.alias[node.output[0]] = self.name(inputs[0])
        if after is not None:
            self.layouts[node.output[0]] = after

    def split(self, node, inputs) -> bool:
        """Whether a Reshape is a channel shuffle's first step, (N, C, H, W) -> (N, g, C/g, H, W)."""
        before = self.shapes.get(inputs[0], ())
        after = self.shapes.get(node.output[0], ())
        if len(before) != 4 or len(after) != 5 or after[:1] != before[:1] or after[3:] != before[2:]:
            return False
        if not all(isinstance(d, int) for d in after) or after[1] * after[2] != before[1]:
            return False
        self.alias[node.output[0]] = self.name(inputs[0])
        self.layouts[node.output[0]] = ("split", after[1])
        return True

    def shuffle(self, node, inputs, layout) -> None:
        """The last step of a channel shuffle, a Reshape back to (N, C, H, W): `channelshuffle g`."""
        source = self.name(inputs[0])
        if (
            layout[0] == "transposed"
            and node.op_type == "Reshape"
            and self.shapes.get(node.output[0], ())[1:] == self.out.ops[source].shape
        ):
            return self.emit(node, "channelshuffle", inputs[:1], (layout[1],))
        raise unsupported(
            self.what(node),
            hint="on a 5-d view of the channels, only a channel shuffle: Reshape to (N, g, C/g, H, W), "
            "Transpose [0, 2, 1, 3, 4], Reshape back to (N, C, H, W)",
        )

    def _chunk(self, node, source: str, start: int, size: int, out: str) -> None:
        channels = self.shape(source, node)[0]
        if size <= 0 or channels % size or start % size or len(self.shapes.get(source, ())) != 4:
            raise unsupported(
                self.what(node),
                hint=f"channels {start} to {start + size} of {channels}: only one of equal channel groups",
            )
        self.emit(node, "chunk", [source], (channels // size,), (("index", start // size),), out=out)

    def slice(self, node, inputs) -> None:
        """`x.chunk(g, dim=1)[i]` as exported (ShuffleNet's channel split): `chunk g index=i`."""
        bounds = [self.constant(value) for value in inputs[1:]]
        rank = len(self.shapes.get(inputs[0], ()))
        if any(value is None for value in bounds) or rank != 4:
            raise unsupported(self.what(node), hint="only a slice of the channels with constant bounds")
        starts, ends = (int(v) for v in bounds[0].reshape(-1)), (int(v) for v in bounds[1].reshape(-1))
        starts, ends = list(starts), list(ends)
        axes = [int(a) % rank for a in bounds[2].reshape(-1)] if len(bounds) > 2 else list(range(len(starts)))
        steps = [int(s) for s in bounds[3].reshape(-1)] if len(bounds) > 3 else [1] * len(starts)
        if axes != [1] or steps != [1]:
            raise unsupported(self.what(node), hint="only a slice of the channels (axis 1, step 1)")
        channels = self.shape(inputs[0], node)[0]
        start, end = (min(max(v + channels if v < 0 else v, 0), channels) for v in (starts[0], ends[0]))
        self._chunk(node, inputs[0], start, end - start, node.output[0])

    def chunks(self, node, attrs, inputs) -> None:
        """A Split of the channels into equal parts: one `chunk g index=i` per part."""
        rank = len(self.shapes.get(inputs[0], ()))
        channels = self.shape(inputs[0], node)[0]
        sizes = self.constant(inputs[1]) if len(inputs) > 1 else attrs.get("split")
        count = len(node.output)
        sizes = [int(v) for v in np.reshape(sizes, -1)] if sizes is not None else [channels // count] * count
        if rank != 4 or attrs.get("axis", 0) % rank != 1 or len(set(sizes)) != 1 or sum(sizes) != channels:
            raise unsupported(self.what(node), hint="only a split of the channels into equal parts")
        for index, out in enumerate(node.output):
            if out:
                self._chunk(node, inputs[0], index * sizes[0], sizes[0], out)

    def layernorm(self, node, attrs, inputs, layout) -> None:
        """LayerNormalization over the channels: of channels-last values, or a flat input's features."""
        rank = len(self.shapes.get(inputs[0], ()))
        axis = attrs.get("axis", -1) % max(rank, 1)
        last = layout == LAST and rank == 4 and axis == 3
        if not (last or (layout is None and rank == 2 and axis == 1)):
            raise unsupported(
                self.what(node),
                hint="only a layer norm over the channels (after a Transpose to NHWC) or over features",
            )
        values = [self.constant(value) for value in inputs[1:3]]
        if len(values) != 2 or any(value is None for value in values):
            raise unsupported(self.what(node), hint="only a layer norm with a constant scale and bias")
        if any(self.users.get(out) for out in node.output[1:] if out):
            raise unsupported(self.what(node), hint="a layer norm whose mean or deviation is used")
        key = node.output[0]
        weights = [
            (name, self._tensor(f"{key}.{name}", value.reshape(-1)))
            for name, value in zip(("weight", "bias"), values)
        ]
        keywords = (("eps", _eps(attrs.get("epsilon", 1e-5))), ("affine", True))
        self.emit(node, "layernorm", inputs[:1], (), keywords, weights)

    def conv1x1(self, node, source: str, weight: np.ndarray) -> None:
        key = self._tensor(f"{node.output[0]}.weight", np.ascontiguousarray(weight.T[:, :, None, None]))
        keywords = (("stride", 1), ("pad", 0), ("dilation", 1), ("groups", 1), ("bias", False))
        self.emit(node, "conv", [source], (int(weight.shape[1]), (1, 1)), keywords, [("weight", key)])
