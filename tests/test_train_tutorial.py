"""docs/tutorial.md's section 15 runs as written: `cnndsl train` learns the vertical edge filter."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex

import numpy as np
import pytest
from conftest import ROOT, run_cli

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```(python|sh|text)\n(.*?)^```$", re.M | re.S)
EDGE = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float32)


def section(text: str) -> str:
    start = text.index("## 15. Learning the edge filter")
    return text[start : text.index("\n## ", start + 1)]


def test_tutorial_learns_the_edge_filter(tmp_path):
    blocks = BLOCK.findall(section(TUTORIAL.read_text()))
    assert [kind for kind, _ in blocks] == ["python", "sh", "python", "text"]
    old, threads = os.getcwd(), torch.get_num_threads()
    os.chdir(tmp_path)
    try:
        namespace: dict = {}
        exec(blocks[0][1], namespace)  # writes edges.npz
        words = shlex.split(blocks[1][1])
        assert words[0] == "cnndsl"
        words = [str(ROOT / word) if word.startswith("examples/") else word for word in words[1:]]
        result = run_cli(*words, "--threads", "1")
        assert result.code == 0, result.err
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(blocks[2][1], namespace)
    finally:
        os.chdir(old)
        torch.set_num_threads(threads)  # --threads 1 was for this run only, not for later tests
    assert np.abs(namespace["learned"] - EDGE).max() <= 1e-3
    assert printed.getvalue() == blocks[3][1]
    assert "e-" in result.out.splitlines()[-2]  # the last epoch's loss is printed below 1e-3
