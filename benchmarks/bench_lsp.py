"""How fast `cnndsl lsp` answers an edit: diagnostics and inlay hints for resnet152.cnn (with its import).

    python benchmarks/bench_lsp.py               # 20 edits of each kind
    python benchmarks/bench_lsp.py --edits 5

Target (issue 11): after an edit, diagnostics and inlay hints arrive within 100 ms. Measured from
sending `didChange` to having both the published diagnostics and the inlayHint response, over
the same stdio pipes an editor uses. Three kinds of edit: a good one, one with a shape error, one
with a syntax error (which also checks the text before the error, for its hints).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lsp_client import LspClient  # noqa: E402 - the tests' client, over real pipes
from lsprotocol import types as lsp  # noqa: E402

TARGET_S = 0.100
ROOT = Path(__file__).resolve().parent.parent


def edit_seconds(client: LspClient, uri: str, texts: list[str], version: int) -> tuple[list[float], int]:
    everything = lsp.Range(lsp.Position(0, 0), lsp.Position(10_000, 0))
    seconds = []
    for text in texts:
        version += 1
        start = time.perf_counter()
        client.change(uri, text, version)
        client.diagnostics(uri, version)
        hints = client.request(
            "textDocument/inlayHint", lsp.InlayHintParams(lsp.TextDocumentIdentifier(uri), everything)
        )
        seconds.append(time.perf_counter() - start)
        assert hints, "no inlay hints"
    return seconds, version


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()
    original = (ROOT / "architectures" / "resnet152.cnn").read_text()
    folder = ROOT / "architectures"  # resnet152.cnn imports resnet_blocks.cnn beside it
    client = LspClient(folder)
    try:
        client.initialize(folder)
        uri = client.open(folder / "resnet152.cnn", original)
        client.diagnostics(uri, 1)
        kinds = {
            "good edit": [original.replace("classes=1000", f"classes={1000 + i}") for i in range(args.edits)],
            "shape error": [
                original.replace("input 3x224x224", f"input 3x{i % 3 + 1}x1") for i in range(args.edits)
            ],
            "syntax error": [
                original.replace("head: classifier", f"head: classifier{'(' * (i % 2 + 1)}")
                for i in range(args.edits)
            ],
        }
        version = 1
        worst = 0.0
        for kind, texts in kinds.items():
            seconds, version = edit_seconds(client, uri, texts, version)
            median, slowest = statistics.median(seconds), max(seconds)
            worst = max(worst, median)
            print(
                f"{kind:>13}: median {median * 1000:6.1f} ms, "
                f"slowest {slowest * 1000:6.1f} ms ({len(seconds)} edits)"
            )
    finally:
        client.close()
    verdict = "meets" if worst <= TARGET_S else "misses"
    print(
        f"target: diagnostics + hints within {TARGET_S * 1000:.0f} ms of an edit: {verdict} it (worst median)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
