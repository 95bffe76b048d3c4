"""The wheel works on its own: built from a copy of the sources, installed into a fresh venv, run elsewhere.

The grammar and the built-in architectures must ship inside the wheel (cnndsl/grammars,
cnndsl/architectures), and `cnndsl` must work from a folder unrelated to the checkout.

The venv is bare: it cannot see the base interpreter's site-packages, the user's, or PYTHONPATH,
so these tests pass or fail alike on a machine whose base Python has only the standard library.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the wheel is built from (copied, so the build writes nothing into the checkout).
SOURCES = ["pyproject.toml", "README.md", "cnndsl", "backends", "grammars", "architectures"]
# The wheel's extras the tests below use: `cnndsl run` needs the NumPy engine's packages.
EXTRAS = {"numpy"}


def run(
    *command: str | Path, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done


def bare_environment() -> dict[str, str]:
    """This process's environment without PYTHONPATH and the other PYTHON* settings that add paths."""
    return {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}


def required_distributions(metadata: str, extras: set[str]) -> set[str]:
    """The distributions a wheel's METADATA requires (with `extras`), and theirs, recursively."""
    from packaging.requirements import Requirement  # installed with `build`

    wanted: set[str] = set()
    pending = [(line, extras) for line in Parser().parsestr(metadata).get_all("Requires-Dist") or []]
    while pending:
        line, chosen = pending.pop()
        requirement = Requirement(line)
        environments = [{"extra": extra} for extra in chosen or {""}]
        if requirement.marker and not any(requirement.marker.evaluate(e) for e in environments):
            continue
        name = requirement.name.lower()
        if name in wanted:
            continue
        try:
            found = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"the wheel requires {line}, which the test environment lacks")
        assert requirement.specifier.contains(found.version, prereleases=True), (
            f"the wheel requires {line}; the test environment has {name} {found.version}"
        )
        wanted.add(name)
        pending += [(sub, requirement.extras) for sub in found.requires or []]
    return wanted


def expose(distributions: set[str], folder: Path, site_packages: Path) -> None:
    """Make exactly `distributions` importable in a venv, offline, from this environment's copies.

    pip cannot install an already-installed package without its wheel, and fetching wheels
    would need the network. Instead each distribution's top-level folders and files (the
    package, its `.dist-info`, vendored libraries such as `numpy.libs`) are linked into
    `folder`, and a path file in the venv names that folder: the venv sees those
    distributions and nothing else of this environment (not pytest, not the base's packages).
    """
    folder.mkdir()
    for name in sorted(distributions):
        found = importlib.metadata.distribution(name)
        assert found.files is not None, f"{name} has no RECORD: cannot tell which files are its own"
        # `..` entries are scripts and data installed outside site-packages.
        for top in sorted({file.parts[0] for file in found.files if file.parts[0] != ".."}):
            origin = Path(found.locate_file(top))
            if origin.exists() and not (folder / top).exists():
                (folder / top).symlink_to(origin, target_is_directory=origin.is_dir())
    (site_packages / "cnndsl-test-dependencies.pth").write_text(f"{folder}\n")


# What a venv's interpreter can import from: its sys.path, its site-packages, the standard
# library, and whether pytest (in the test environment, not a dependency) is importable.
PROBE = """
import importlib.util, json, sys, sysconfig
print(json.dumps({
    "path": [entry for entry in sys.path if entry],
    "site_packages": sysconfig.get_path("purelib"),
    "stdlib": [sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")],
    "pytest": importlib.util.find_spec("pytest") is not None,
}))
"""


def probe(python: Path, cwd: Path) -> dict:
    return json.loads(run(python, "-c", PROBE, cwd=cwd, env=bare_environment()).stdout)


def assert_bare(python: Path, allowed: list[Path], cwd: Path) -> None:
    """The venv's interpreter reads only its own folders, `allowed` and the standard library.

    This is what lets CI catch a test that leans on the base interpreter's packages (a venv
    made with system site packages passed wherever the base happened to have lark).
    """
    seen = probe(python, cwd)
    assert not seen["pytest"], "the test venv can import pytest: it sees packages it was not given"
    roots = [Path(python).parent.parent.resolve(), *(path.resolve() for path in allowed)]
    stdlib = [Path(path).resolve() for path in seen["stdlib"]]
    for entry in map(Path, seen["path"]):
        if not entry.exists():
            continue  # e.g. the zipped standard library most builds do not ship
        entry = entry.resolve()
        if any(entry.is_relative_to(root) for root in roots):
            continue
        in_stdlib = any(entry.is_relative_to(folder) for folder in stdlib)
        assert in_stdlib and not {"site-packages", "dist-packages"} & set(entry.parts), (
            f"the test venv reads {entry}, outside itself and the standard library"
        )


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
    # --no-isolation builds with the setuptools already installed (the test extra asks for
    # one recent enough): no network needed.
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
    """The `bin` folder of a bare venv holding the wheel and, linked in, only what the wheel requires."""
    work = tmp_path_factory.mktemp("venv")
    env = work / "env"
    venv.create(env, with_pip=False)  # no system site packages: see the module docstring
    python = env / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python]
    run(*pip, "install", "--no-deps", "--no-index", wheel, cwd=work, env=bare_environment())
    with zipfile.ZipFile(wheel) as archive:
        (name,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    site_packages = Path(probe(python, work)["site_packages"])
    expose(required_distributions(metadata, EXTRAS), work / "dependencies", site_packages)
    assert_bare(python, [work / "dependencies"], work)
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
    env = bare_environment()
    where = run(installed / "python", "-c", "import cnndsl; print(cnndsl.__file__)", cwd=tmp_path, env=env)
    # The venv's copy is the one imported, not the editable checkout.
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)
    check = run(installed / "cnndsl", "check", "resnet50", cwd=tmp_path, env=env)
    assert (
        check.stdout
        == "resnet50.cnn: ok: resnet50 3x224x224 -> 1000, 25,557,032 params, 4,089,184,256 MACs\n"
    )
    summary = run(installed / "cnndsl", "summary", "lenet5.cnn", cwd=tmp_path, env=env)
    assert summary.stdout.startswith("lenet5 (lenet5.cnn): input 1x32x32 -> output 10\n")
    assert "Total params                      61,706" in summary.stdout


def test_installed_wheel_finds_its_backend_plugins(installed: Path, tmp_path: Path):
    code = (
        "import inspect; from cnndsl.plugins import available_backends, get_backend; "
        "print(available_backends()); print(inspect.getfile(type(get_backend('numpy'))))"
    )
    env = bare_environment()
    found = run(installed / "python", "-c", code, cwd=tmp_path, env=env).stdout.splitlines()
    assert found[0] == "['numpy', 'torch']"
    assert Path(found[1]).is_relative_to(installed.parent)  # the wheel's copy of the plugin
    ran = run(installed / "cnndsl", "run", "lenet5", "--batch", "1", "--top", "1", cwd=tmp_path, env=env)
    assert "lenet5 on random input x1: output (1, 10)" in ran.stdout


def test_the_bare_venv_check_catches_system_site_packages(tmp_path: Path):
    """The check the fixture relies on fails for a venv that sees the base interpreter's packages."""
    env = tmp_path / "env"
    # Built from parts so that the source scan below does not flag this test itself.
    venv.create(env, with_pip=False, **{"system_site_" + "packages": True})
    # Where the base has pytest, the probe finds it; where the base is bare, its site-packages.
    with pytest.raises(AssertionError, match="sees packages it was not given|outside itself"):
        assert_bare(env / "bin" / "python", [], tmp_path)


def test_no_test_asks_for_the_base_interpreters_packages():
    """A venv with system site packages passes only where the base Python has the packages."""
    asks = ("system_site_" + "packages=True", "--system-" + "site-packages")
    sources = [*(ROOT / "tests").rglob("*.py"), *(ROOT / ".ci").iterdir()]
    found = [
        f"{path.relative_to(ROOT)}: {ask}"
        for path in sources
        if path.is_file()
        for ask in asks
        if ask in path.read_text(errors="replace")
    ]
    assert not found, found
