"""The front end stays light: `cnndsl check` and `summary` never import torch, numpy or other backends."""

import json
import subprocess
import sys

# Frameworks only backends and exporters may import, each lazily.
HEAVY = ["torch", "numpy", "onnx", "onnxruntime", "onnxscript", "PIL", "safetensors"]

PROGRAM = """
import contextlib, io, json, sys
from cnndsl.cli import main

with contextlib.redirect_stdout(io.StringIO()):
    codes = [main(["check", "resnet50", "googlenet"]), main(["summary", "lenet5", "--format", "json"])]
    codes.append(main(["summary", "vgg16", "--format", "markdown", "--depth", "1"]))
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def test_check_and_summary_import_no_framework(tmp_path):
    # A fresh interpreter, so that nothing imported by other tests counts.
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["codes"] == [0, 0, 0]
    imported = {name.split(".")[0] for name in report["modules"]}
    assert "cnndsl" in imported
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))


def test_a_named_command_imports_only_its_own_module(tmp_path):
    program = (
        "import contextlib, io, json, sys\n"
        "from cnndsl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['summary', 'lenet5', '--format', 'json'])\n"
        "print(json.dumps([code, sorted(n for n in sys.modules if n.startswith('cnndsl.commands.'))]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    code, commands = json.loads(done.stdout)
    assert code == 0
    # common is the shared helpers every command uses; graph, run, import... stay unloaded.
    assert set(commands) <= {"cnndsl.commands.summary", "cnndsl.commands.common"}, commands
