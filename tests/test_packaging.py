"""The package metadata says what the code needs: declared imports, floors that hold, no caps, pinned tools."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# import name -> distribution name, where they differ
DISTRIBUTION = {"PIL": "pillow", "IPython": "ipython", "skimage": "scikit-image"}
# the oldest release with an API the code uses: (distribution, version, a string the code contains)
NEEDS = [("torch", "2.3", "torch.amp.GradScaler"), ("torchvision", "0.18", "torchvision")]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()


def _floor(requirement: str) -> tuple[int, ...] | None:
    m = re.search(r">=\s*([\d.]+)", requirement)
    return tuple(int(x) for x in m.group(1).split(".")) if m else None


def _imports(folder: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    local = {p.stem for p in folder.rglob("*.py")}  # the folder's own modules (scripts import each other)
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "cnnedu" and top not in local:
                    found.setdefault(DISTRIBUTION.get(top, top).lower(), str(path.relative_to(ROOT)))
    return found


def test_everything_cnnedu_imports_is_declared():
    declared = {_name(r) for r in PROJECT["dependencies"]}
    missing = {d: where for d, where in _imports(ROOT / "cnnedu").items() if d not in declared}
    assert not missing, f"imported by cnnedu but not in [project.dependencies]: {missing}"


def test_the_scripts_needs_are_in_the_dev_extra():
    extras = PROJECT["optional-dependencies"]
    have = {_name(r) for r in PROJECT["dependencies"] + extras["dev"]}
    missing = {d: w for d, w in _imports(ROOT / "scripts").items() if d not in have}
    assert not missing, f"imported by scripts/ but neither a dependency nor in the dev extra: {missing}"


def test_the_library_does_not_pull_a_server():
    declared = {_name(r) for r in PROJECT["dependencies"]}
    assert not declared & {"jupyterlab", "jupyterlab-rise", "notebook"}
    assert {_name(r) for r in PROJECT["optional-dependencies"]["lab"]} == {"jupyterlab", "jupyterlab-rise"}


def test_floors_cover_the_apis_used_and_nothing_is_capped():
    requirements = {_name(r): r for r in PROJECT["dependencies"]}
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "cnnedu").rglob("*.py"))
    for dist, version, used in NEEDS:
        assert used in code, f"{used} is no longer used: revisit the floor of {dist}"
        floor = _floor(requirements[dist])
        assert floor is not None and floor >= tuple(int(x) for x in version.split(".")), requirements[dist]
    # torchvision 0.x is built for torch 2.(x - 15): the two floors must be a pair
    assert _floor(requirements["torchvision"])[1] - 15 == _floor(requirements["torch"])[1]
    capped = [r for rs in [PROJECT["dependencies"], *PROJECT["optional-dependencies"].values()] for r in rs
              if re.search(r"<|==|~=", r)]
    assert not capped, f"caps and pins belong in constraints.txt, not in the metadata: {capped}"


def test_constraints_pin_every_tool_and_the_tested_torch():
    pins = dict(line.split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    pins = {k.lower(): v for k, v in pins.items()}
    for tool in ("torch", "torchvision", "ruff", "pytest", "nbval", "pytest-xdist", "playwright", "jupyterlab"):
        assert tool in pins, f"{tool} is not pinned in constraints.txt"
    assert "cnnedu" not in pins
    makefile = (ROOT / "Makefile").read_text()
    assert "-c $(CONSTRAINTS)" in makefile and "CONSTRAINTS := constraints.txt" in makefile
