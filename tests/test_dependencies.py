"""Dependency floors that close known vulnerabilities (issue 8, finding 12)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _floor(requirement: str) -> tuple[int, ...]:
    found = re.search(r">=\s*([0-9.]+)", requirement)
    assert found, requirement
    return tuple(int(p) for p in found.group(1).split("."))


def test_filelock_floor_excludes_cve_2025_68146_and_cve_2026_22701() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    filelock = next(d for d in deps if d.startswith("filelock"))
    assert _floor(filelock) >= (3, 20, 3)
    assert tuple(int(p) for p in version("filelock").split(".")[:3]) >= (3, 20, 3)
