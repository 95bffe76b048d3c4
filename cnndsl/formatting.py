"""Showing a Summary: an aligned table like torchinfo's, stable JSON, and Markdown."""

from __future__ import annotations

import json
import re

from .summary import Summary


def dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _hundredths(count: int, scale: int) -> str:
    """count / scale to two decimals, like `:,.2f`, but in integers where a float would overflow."""
    try:
        return f"{count / scale:,.2f}"
    except OverflowError:
        hundredths = (count * 100 + scale // 2) // scale
        return f"{hundredths // 100:,}.{hundredths % 100:02d}"


def human_bytes(count: int) -> str:
    return f"{_hundredths(count, 2**20)} MiB"


def human_count(count: int) -> str:
    for unit, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if count >= scale:
            return f"{_hundredths(count, scale).replace(',', '')}{unit}"
    return str(count)


def _totals(summary: Summary) -> list[tuple[str, str]]:
    return [
        ("Total params", f"{summary.params:,}"),
        ("Trainable params", f"{summary.trainable_params:,}"),
        ("Non-trainable params", f"{summary.params - summary.trainable_params:,}"),
        ("Buffers", f"{summary.buffers:,}"),
        ("MACs", f"{summary.macs:,} ({human_count(summary.macs)}; FLOPs = 2 x MACs)"),
        ("Params + buffers size (float32)", human_bytes(summary.param_bytes)),
        ("Activations, one image (float32)", human_bytes(summary.activation_bytes)),
    ]


def _outputs_text(summary: Summary) -> str:
    """`output 10`, or for several outputs `outputs seg 2x7x7, cls 3` in their declared order."""
    if not summary.outputs:
        return f"output {dims(summary.output_shape)}"
    return "outputs " + ", ".join(f"{name} {dims(shape)}" for name, shape in summary.outputs)


def render_table(summary: Summary) -> str:
    header = ("Layer", "Op", "Output shape", "Params", "MACs")
    body = [(r.name, r.op, dims(r.output_shape), f"{r.params:,}", f"{r.macs:,}") for r in summary.rows]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    numeric = {3, 4}

    def line(cells: tuple[str, ...]) -> str:
        padded = (c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "  ".join(padded)

    rule_width = len(line(header))
    out = [
        f"{summary.network} ({summary.source}): "
        f"input {dims(summary.input_shape)} -> {_outputs_text(summary)}",
        "=" * rule_width,
        line(header).rstrip(),
        "-" * rule_width,
        *(line(cells).rstrip() for cells in body),
        "=" * rule_width,
    ]
    label_width = max(len(label) for label, _ in _totals(summary))
    out.extend(f"{label.ljust(label_width)}  {value}" for label, value in _totals(summary))
    out.extend(f"note: {note}" for note in summary.notes)
    return "\n".join(out) + "\n"


def to_dict(summary: Summary) -> dict:
    outputs = {}
    if summary.outputs:  # only for several outputs, so that one-output summaries stay as they were
        outputs = {"outputs": [{"name": name, "shape": list(shape)} for name, shape in summary.outputs]}
    return {
        "network": summary.network,
        "input_shape": list(summary.input_shape),
        "output_shape": list(summary.output_shape),
        **outputs,
        "params": summary.params,
        "trainable_params": summary.trainable_params,
        "buffers": summary.buffers,
        "macs": summary.macs,
        "layers": [
            {
                "name": r.name,
                "op": r.op,
                "output_shape": list(r.output_shape),
                "params": r.params,
                "buffers": r.buffers,
                "macs": r.macs,
            }
            for r in summary.rows
        ],
        "notes": list(summary.notes),
    }


def _one_line_list(match: re.Match) -> str:
    return "[" + ", ".join(re.findall(r"-?\d+", match[1])) + "]"


def render_json(summary: Summary) -> str:
    text = json.dumps(to_dict(summary), indent=2)
    # Shapes read better on one line: [3, 224, 224] rather than one number per line.
    text = re.sub(r"\[\s+([-\d]+(?:,\s+[-\d]+)*)\s+\]", _one_line_list, text)
    return text + "\n"


def render_markdown(summary: Summary) -> str:
    out = [
        f"### {summary.network}",
        "",
        f"Input {dims(summary.input_shape)}, {_outputs_text(summary)}.",
        "",
        "| Layer | Op | Output shape | Params | MACs |",
        "|---|---|---|---:|---:|",
        *(
            f"| `{r.name}` | {r.op} | {dims(r.output_shape)} | {r.params:,} | {r.macs:,} |"
            for r in summary.rows
        ),
        "",
        *(f"- **{label}**: {value}" for label, value in _totals(summary)),
        *(f"- note: {note}" for note in summary.notes),
    ]
    return "\n".join(out) + "\n"


RENDERERS = {"table": render_table, "json": render_json, "markdown": render_markdown}
