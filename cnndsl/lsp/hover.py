"""What hovering shows, as Markdown: a layer's figures and op reference, a call's totals, a name's value."""

from __future__ import annotations

from .. import ops
from ..expressions import describe_value
from ..op_reference import language_value
from .analysis import Analysis, Fact
from .names import Name, name_at


def dims(shape: tuple[int, ...] | None) -> str:
    return "x".join(str(d) for d in shape) if shape else "?"


def hint_label(fact: Fact) -> str:
    """The inlay hint after a statement: its output shape, and a call's or network's parameters."""
    if fact.what == "layer":
        return f"-> {dims(fact.shape)}"
    return f"-> {dims(fact.shape)}, {fact.params:,} params"


def fact_at(analysis: Analysis, offset: int) -> Fact | None:
    """The innermost statement containing `offset` (a call's span holds only the call)."""
    inside = [f for f in analysis.facts if f.start <= offset <= f.end]
    return min(inside, key=lambda fact: fact.end - fact.start, default=None)


def _figures(fact: Fact) -> list[str]:
    lines = [
        f"output **{dims(fact.shape)}**" + (f" (from {dims(fact.input_shape)})" if fact.input_shape else "")
    ]
    lines.append(
        f"{fact.params:,} parameters" + (f", {fact.buffers:,} buffer values" if fact.buffers else "")
    )
    lines.append(f"{fact.macs:,} MACs")
    if fact.count > 1 and fact.what == "layer":
        lines.append(f"{fact.count} times (a repeat); figures summed, shape of the last")
    if fact.call:
        lines.append(f"for the call {fact.call}")
    return lines


def op_reference(kind: str) -> list[str]:
    """The op table's text for a layer kind: summary, then each argument with its default."""
    op = ops.lookup(kind)
    if op is None:
        return []
    lines = [op.summary]
    for arg in op.args:
        if arg.default is ops.REQUIRED:
            default = "required"
        elif arg.default is None:
            default = "none"
        else:
            default = f"default `{language_value(arg.default)}`"
        where = ", positional" if arg.positional else ""
        lines.append(f"- `{arg.name}` ({default}{where}): {arg.help}")
    lines.extend(f"- {note}" for note in op.notes)
    lines.append(f"\nExample: `{op.example.splitlines()[0]}`")
    return ["\n".join(lines)]


def _signature(analysis: Analysis, block: str) -> str | None:
    program = analysis.program
    definition = program.definitions.get(block) if program else None
    if definition is None:
        return None
    parameters = []
    for parameter in definition.parameters:
        text = parameter.name
        if parameter.default is not None:
            span = parameter.default.span
            text += "=" + span.source.text[span.start : span.end]
        parameters.append(text)
    return f"block {block}({', '.join(parameters)})  # {definition.name_span}"


def hover_text(analysis: Analysis, names: list[Name], offset: int) -> tuple[str, int, int] | None:
    """(markdown, start, end) for the cursor at `offset`, or None where there is nothing to say."""
    name = name_at(names, offset)
    fact = fact_at(analysis, offset)
    if name is not None and name.kind == "import":
        where = str(name.path) if name.path else "not found"
        return f'`import "{name.name}"`: {where}', name.start, name.end
    if name is not None and name.kind == "parameter":
        return _parameter_hover(analysis, name, fact), name.start, name.end
    if name is not None and name.kind == "label":
        # The statement a label names starts after `label:`.
        after = name.definition.end if name.definition else name.end
        labelled = next((f for f in analysis.facts if f.start >= after and f.what != "network"), None)
        text = f"label `{name.name}`"
        if labelled is not None:
            text += f": **{dims(labelled.shape)}**"
        return text, name.start, name.end
    if name is not None and name.kind == "block":
        signature = _signature(analysis, name.name)
        lines = [f"```cnn\n{signature}\n```"] if signature else [f"unknown block `{name.name}`"]
        if fact is not None and fact.what == "call":
            lines += [f"called as `{fact.title}`", *_figures(fact)]
        return "\n\n".join(lines), name.start, name.end
    if fact is None:
        return None
    if fact.what == "network":
        lines = [
            f"network `{fact.title}`: {dims(fact.input_shape)} -> {dims(fact.shape)}",
            *_figures(fact)[1:],
        ]
    elif fact.what == "call":
        lines = [f"`{fact.title}`", *_figures(fact)]
    else:
        lines = [f"**{fact.title}**", *_figures(fact), "---", *op_reference(fact.title)]
    return "\n\n".join(lines), fact.start, fact.end


def _parameter_hover(analysis: Analysis, name: Name, fact: Fact | None) -> str:
    values = analysis.parameters.get(name.scope)
    if values is not None and name.name in values:
        return f"parameter `{name.name}` of network `{name.scope}` = `{describe_value(values[name.name])}`"
    text = f"parameter `{name.name}` of block `{name.scope}`"
    if fact is not None and fact.call:
        text += f"; bound by the call {fact.call}"
    return text
