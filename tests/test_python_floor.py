"""The Python version promised is the one the code and its dependencies really need."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _floor() -> Version:
    spec = PROJECT["project"]["requires-python"]
    (lower,) = re.findall(r">=\s*([0-9.]+)", spec)
    return Version(lower)


def test_readme_ruff_and_pyproject_promise_the_same_python():
    floor = _floor()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    short = f"{floor.major}.{floor.minor}"
    assert f"Python {short} or newer" in readme and f"Python {short}+" in readme
    assert not re.search(r"Python 3\.(\d+)(?: or newer|\+)", readme.replace(short, "")), \
        "README names another Python version"
    assert PROJECT["tool"]["ruff"]["target-version"] == f"py{floor.major}{floor.minor}"


def test_every_installed_dependency_admits_the_oldest_python_promised():
    floor = _floor()
    refused = []
    for text in PROJECT["project"]["dependencies"]:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"python_version": str(floor)}):
            continue
        dist = metadata.distribution(req.name)
        needs = dist.metadata.get("Requires-Python")
        if needs and floor not in SpecifierSet(needs):
            refused.append(f"{req.name} {dist.version} needs Python {needs}")
    assert not refused, refused
