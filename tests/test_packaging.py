"""The wheel works on its own: built from a copy of the sources, installed into a fresh venv, run elsewhere.

The grammar and the built-in architectures must ship inside the wheel (cnndsl/grammars,
cnndsl/architectures), and `cnndsl` must work from a folder unrelated to the checkout.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the wheel is built from (copied, so the build writes nothing into the checkout).
SOURCES = ["pyproject.toml", "README.md", "cnndsl", "backends", "grammars", "architectures"]


def run(*command: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    assert importlib.util.find_spec("build"), "`build` is missing: pip install -e '.[test]' installs it"
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(ROOT / name, source / name)
    # --no-isolation builds with the setuptools already installed: no network needed.
    run(
        sys.executable,
        "-m",
        "build",
        "--wheel",
        "--no-isolation",
        "--outdir",
        work / "dist",
        source,
        cwd=work,
    )
    (built,) = (work / "dist").glob("cnndsl-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory) -> Path:
    """The `bin` folder of a fresh venv with only the wheel added (lark and networkx come from the system)."""
    env = tmp_path_factory.mktemp("venv") / "env"
    venv.create(env, system_site_packages=True, with_pip=False)
    python = env / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=env)
    return env / "bin"


def test_wheel_ships_the_grammar_and_the_architectures(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cnndsl/grammars/cnn.lark" in names
    shipped = {Path(name).name for name in names if name.startswith("cnndsl/architectures/")}
    expected = {path.name for path in (ROOT / "architectures").glob("*.cnn")}
    assert expected <= shipped
    assert "cnndsl/commands/check.py" in names
    assert not any(name.startswith(("tests/", "grammars/", "architectures/")) for name in names)


def test_installed_wheel_runs_from_an_unrelated_folder(installed: Path, tmp_path: Path):
    where = run(installed / "python", "-c", "import cnndsl; print(cnndsl.__file__)", cwd=tmp_path)
    # The venv's copy is the one imported, not the editable checkout.
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)
    check = run(installed / "cnndsl", "check", "resnet50", cwd=tmp_path)
    assert (
        check.stdout
        == "resnet50.cnn: ok: resnet50 3x224x224 -> 1000, 25,557,032 params, 4,089,184,256 MACs\n"
    )
    summary = run(installed / "cnndsl", "summary", "lenet5.cnn", cwd=tmp_path)
    assert summary.stdout.startswith("lenet5 (lenet5.cnn): input 1x32x32 -> output 10\n")
    assert "Total params                      61,706" in summary.stdout


def test_installed_wheel_finds_its_backend_plugins(installed: Path, tmp_path: Path):
    code = (
        "import inspect; from cnndsl.plugins import available_backends, get_backend; "
        "print(available_backends()); print(inspect.getfile(type(get_backend('numpy'))))"
    )
    found = run(installed / "python", "-c", code, cwd=tmp_path).stdout.splitlines()
    assert found[0] == "['numpy', 'torch']"
    assert Path(found[1]).is_relative_to(installed.parent)  # the wheel's copy of the plugin
    ran = run(installed / "cnndsl", "run", "lenet5", "--batch", "1", "--top", "1", cwd=tmp_path)
    assert "lenet5 on random input x1: output (1, 10)" in ran.stdout
