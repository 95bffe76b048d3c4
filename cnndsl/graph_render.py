"""Drawing a GraphView: Graphviz DOT text, Mermaid flowcharts, and SVG/PNG through `dot`."""

from __future__ import annotations

import shutil
import subprocess

from .errors import CnnError, CnnUsageError
from .graph_view import Cluster, GraphView, Scope

# Fill colours per op family, light enough for black text.
COLOURS = {
    "input": "#e2e3e5",
    "conv": "#cfe2ff",
    "pool": "#d1e7dd",
    "norm": "#fff3cd",
    "activation": "#f8f9fa",
    "fc": "#ffe5d0",
    "merge": "#f8d7da",
    "block": "#e0cffc",
    "other": "#ffffff",
}
FONT = "Helvetica"
_FONT_ATTR = f'fontname="{FONT}"'
GRAPHVIZ_TIMEOUT_S = 120  # ResNet-152 renders in a few seconds; a hang should not last forever


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines: list[str]) -> str:
    # \n centres each line in DOT labels.
    return _dot_string("\n".join(lines)).replace("\n", "\\n")


def to_dot(view: GraphView) -> str:
    """The picture as Graphviz DOT: blocks are clusters, nodes coloured by op family."""
    out = [
        f"digraph {_dot_string(view.name)} {{",
        f"    graph [newrank=true, ordering=out, {_FONT_ATTR}, labelloc=t, label={_dot_string(view.title)}];",
        f'    node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=10, fillcolor="#ffffff"];',
        '    edge [color="#555555", arrowsize=0.7];',
    ]
    out.extend(_dot_cluster(view, view.clusters[()], 1))
    out.extend(f"    {_dot_string(a)} -> {_dot_string(b)};" for a, b in view.edges)
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_cluster(view: GraphView, cluster: Cluster, level: int) -> list[str]:
    pad = "    " * level
    lines: list[str] = []
    for node_id in cluster.nodes:
        node = view.nodes[node_id]
        colour = COLOURS.get(node.family, COLOURS["other"])
        lines.append(f'{pad}{_dot_string(node_id)} [label={_dot_label(node.lines)}, fillcolor="{colour}"];')
    # With newrank, dot places sibling clusters right to left in the order they are written;
    # writing them last-first draws concat branches left to right as the source lists them.
    for child in reversed(cluster.children):
        inner = view.clusters[child]
        lines.append(f"{pad}subgraph {_dot_string('cluster_' + '.'.join(child))} {{")
        lines.append(f'{pad}    label={_dot_label([inner.label])}; style="rounded,dashed"; color="#888888";')
        lines.extend(_dot_cluster(view, inner, level + 1))
        lines.append(f"{pad}}}")
    return lines


def _mermaid_text(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(view: GraphView) -> str:
    """The picture as a Mermaid flowchart (renders in GitHub and GitLab Markdown)."""
    ids = {node_id: f"n{index}" for index, node_id in enumerate(view.nodes)}
    out = ["flowchart TD"]
    subgraph_ids: dict[Scope, str] = {}

    def emit(cluster: Cluster, level: int) -> None:
        pad = "    " * level
        for item in cluster.contents:
            if isinstance(item, str):
                label = "<br/>".join(_mermaid_text(line) for line in view.nodes[item].lines)
                out.append(f'{pad}{ids[item]}["{label}"]')
                continue
            subgraph_ids[item] = f"s{len(subgraph_ids)}"
            out.append(f'{pad}subgraph {subgraph_ids[item]}["{_mermaid_text(view.clusters[item].label)}"]')
            emit(view.clusters[item], level + 1)
            out.append(f"{pad}end")

    emit(view.clusters[()], 1)
    out.extend(f"    {ids[a]} --> {ids[b]}" for a, b in view.edges)
    families: dict[str, list[str]] = {}
    for node_id, node in view.nodes.items():
        families.setdefault(node.family, []).append(ids[node_id])
    for family, members in families.items():
        out.append(f"    classDef {family} fill:{COLOURS.get(family, COLOURS['other'])},stroke:#555555")
        out.append(f"    class {','.join(members)} {family}")
    return "\n".join(out) + "\n"


def run_graphviz(dot_text: str, output_format: str) -> bytes:
    """SVG or PNG bytes from Graphviz's `dot` program."""
    program = shutil.which("dot")
    if program is None:
        raise CnnUsageError(
            f"--format {output_format} needs Graphviz's `dot` program, which is not installed; install the "
            "graphviz package (apt-get install graphviz, brew install graphviz or conda install graphviz), "
            "or use --format dot or --format mermaid"
        )
    try:
        done = subprocess.run(
            [program, f"-T{output_format}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=GRAPHVIZ_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CnnError(f"Graphviz's dot failed: {error}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise CnnError(f"Graphviz's dot failed (exit {done.returncode}): {message}")
    return done.stdout
