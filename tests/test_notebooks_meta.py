"""Static checks of every notebook: badges and install cells from one address, clean metadata, checked cells."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import badges  # noqa: E402
from run_notebooks import WIDGET_NOTE  # noqa: E402


def _src(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"
    assert NOTEBOOKS[0].name.startswith("00_")


def test_badges_and_install_cells_are_up_to_date():
    # --no-tag: the release tag is made when the course is released; a checkout before that has none
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "badges.py"), "--check", "--no-tag"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_badges_check_names_a_missing_tag(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    problem = badges.missing_tag("v9.9.9", tmp_path)
    assert "'v9.9.9'" in problem and "git tag v9.9.9" in problem and "REF" in problem
    subprocess.run([*git, "tag", "v9.9.9"], check=True)
    assert badges.missing_tag("v9.9.9", tmp_path) is None
    assert "cannot list the tags" in badges.missing_tag("v9.9.9", tmp_path / "nowhere")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    assert "widgets" not in nb["metadata"], "widget state stored (GitHub cannot render it)"
    cells = nb["cells"]
    first = _src(cells[0])
    assert badges.badge_line(path) in first, "first cell lacks the generated Colab / Binder badges"
    code = [c for c in cells if c["cell_type"] == "code"]
    assert badges.install_block() in _src(code[0]), "setup cell lacks the generated Colab install block"
    assert any("NBVAL_CHECK_OUTPUT" in _src(c) for c in code), "no checked cell"
    assert all(c.get("outputs") is not None for c in code)
    assert any(c.get("outputs") for c in code), "no stored outputs"
    counts = [c["execution_count"] for c in code if c.get("execution_count") is not None]
    assert counts == sorted(counts), "cells were run out of order"
    for c in code:
        assert all(o.get("output_type") != "error" for o in c.get("outputs", [])), "a stored output is an error"
    # stored widgets read as a note where no kernel runs (GitHub, the slides), never as a repr or a 0 % bar
    for c in code:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                assert "".join(data.get("text/plain", "")) == WIDGET_NOTE, "run scripts/run_notebooks.py to store it"


# What a Colab runtime has installed: the Colab install cell adds cnnedu with --no-deps, plus torchinfo
COLAB_HAS = {"IPython", "PIL", "ipywidgets", "matplotlib", "numpy", "skimage", "torch", "torchvision", "tqdm"}


def _third_party_imports() -> dict[str, str]:
    """Top-level modules imported by cnnedu and the notebooks (outside the standard library): module -> where."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "cnnedu").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                for m in re.finditer(r"^\s*(?:import|from)\s+(\w+)", _src(cell), re.M):
                    found.setdefault(m.group(1), path.name)
    return {m: where for m, where in found.items() if m not in sys.stdlib_module_names and m != "cnnedu"}


def test_the_colab_install_cell_brings_every_import():
    block = badges.install_block()
    assert "--no-deps" in block and "pip install -q torchinfo" in block
    missing = {m: where for m, where in _third_party_imports().items() if m not in COLAB_HAS | {"torchinfo"}}
    assert not missing, f"imported but neither on Colab nor in the Colab install cell: {missing}"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _env_lines(path: Path) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^\s*-\s+(.+)$", path.read_text(encoding="utf-8"), re.M)]


@pytest.mark.parametrize("where", ["environment.yml", "binder/environment.yml"])
def test_conda_environments_match_the_package(where):
    """The conda files (users, Binder) install what pyproject.toml declares, its lab extra, CPU-only torch."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["lab"]
    lines = _env_lines(ROOT / where)
    assert "python=3.11" in lines
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines, "no GPU there: CPU wheels"
    listed = {_name(x) for x in lines if not x.startswith(("-", "python", "pip", "conda-forge"))}
    assert listed == {_name(d) for d in declared}
    for requirement in declared:
        assert requirement.replace(" ", "") in lines, f"{requirement} differs in {where}"
    local = [x for x in lines if x.startswith(("-e", ".")) or x.endswith(" .")]
    if where.startswith("binder"):  # no local lines: repo2docker caches the environment across commits
        assert not local, f"{where} installs the checkout ({local}); binder/postBuild does that"
    else:
        assert local == ["-e ."], "environment.yml must install cnnedu itself"


def test_binder_installs_cnnedu_and_caps_threads():
    post, start = ROOT / "binder" / "postBuild", ROOT / "binder" / "start"
    assert os.access(post, os.X_OK) and os.access(start, os.X_OK)
    assert "pip install --no-deps" in post.read_text()
    text = start.read_text()
    assert "cpu_quota" in text and "OMP_NUM_THREADS" in text and 'exec "$@"' in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_are_short_and_the_install_cell_stands_alone(path):
    code = [_src(c) for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    assert code[0].strip() == badges.install_block(), "the first code cell must be the Colab install block alone"
    long = {i: len(src.splitlines()) for i, src in enumerate(code) if len(src.splitlines()) > 30}
    assert not long, f"code cells over 30 lines (code cell index: lines): {long}; move drawing code into cnnedu"


def _commonmark(text: str) -> str:
    mistune = pytest.importorskip("mistune")  # nbconvert's Markdown renderer, close to CommonMark
    return mistune.create_markdown(escape=False)(text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badges_render_as_two_linked_images(path):
    html = _commonmark(_src(json.loads(path.read_text(encoding="utf-8"))["cells"][0]))
    links = re.findall(r'<a href="([^"]+)"><img src="([^"]+)"', html)
    assert [img.rsplit("/", 1)[-1] for _href, img in links][:2] == ["colab-badge.svg", "badge_logo.svg"], html[:600]
    assert "[![" not in html, "a badge shows as raw Markdown"
    assert "Time to run" in re.sub(r"<[^>]+>", "", html) and "<!-- time -->Time" not in html


def test_readme_course_map_links_render():
    html = _commonmark((ROOT / "README.md").read_text(encoding="utf-8"))
    colab = re.findall(r'<a href="https://colab.research.google.com/github/[^"]+">Colab</a>', html)
    assert len(colab) == len(NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_stored_figure_has_its_image(path):
    """A Figure shown before the inline backend was active is stored as "<Figure size ...>" text only."""
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = "".join(data.get("text/plain", ""))
            assert not ("<Figure size" in text and "image/png" not in data), f"cell {i}: a figure without its image"


# The experiment helpers a GPU run exercises: every notebook call of one of them must also occur in the dry-run
# subset that CI runs (a helper that only the full dry run reaches could break on the GPU path unnoticed).
HELPER_CALL = re.compile(r"\b(train\.(?:fit|evaluate|compare|claim)|resolution\.accuracy_by_resolution)\(|"
                         r"data\.loaders\(\"(\w+)\"")


def _helper_calls(path: Path) -> set[str]:
    source = "\n".join(_src(c) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    return {m.group(1) or f"data.loaders({m.group(2)!r})" for m in HELPER_CALL.finditer(source)}


def test_the_ci_dry_run_subset_calls_every_experiment_helper():
    makefile = (ROOT / "Makefile").read_text()
    subset = re.search(r"^DRY_RUN_SUBSET := ((?:.*\\\n)*.*)$", makefile, re.M).group(1).replace("\\\n", " ").split()
    assert subset and all((ROOT / p).exists() for p in subset), subset
    everywhere = set().union(*(_helper_calls(p) for p in NOTEBOOKS))
    covered = set().union(*(_helper_calls(ROOT / p) for p in subset))
    assert {"train.fit", "train.evaluate", "train.compare", "train.claim"} <= everywhere  # the pattern still finds them
    assert everywhere - covered == set(), f"add a notebook that calls these to DRY_RUN_SUBSET: {everywhere - covered}"
    assert "gpu-dry-run-subset" in (ROOT / ".ci" / "run").read_text()
