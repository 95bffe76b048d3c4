"""Every Python package of the sources is listed for setuptools (a missing one, such as the torch
backend's training package, would be left out of the wheel without any error)."""

from __future__ import annotations

import pytest
from conftest import ROOT

tomllib = pytest.importorskip("tomllib")

INSTALLED_AS = {"cnndsl": "cnndsl", "backends": "cnndsl.backends"}


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    for folder, name in INSTALLED_AS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            assert ".".join((name, *parts)) in listed, init.parent
