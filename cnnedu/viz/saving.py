"""Saving figures for slides: a PNG at 150 dpi and an SVG whose text stays editable."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

# ---------------------------------------------------------------------------------------------------------
# Saving for slides.


def _repository_root() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").exists() or (root / ".git").exists() else None


def save_figure(fig: Figure, name: str, directory: str | Path = "figures") -> tuple[Path, Path]:
    """Write ``name.png`` (150 dpi) and ``name.svg`` for slides; returns both paths.

    A relative ``directory`` is taken from the repository root when cnnedu runs from its checkout, else from
    the current directory; it is created when missing. The environment variable ``CNNEDU_FIGURES`` replaces
    the default folder (the test suite points it at a scratch folder, so that running the notebooks under
    test leaves the repository's ``figures/`` as it was).
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    stem = Path(str(name))
    if not str(name) or stem.name != str(name) or stem.name in (".", ".."):
        raise ValueError(f"name must be a plain file name without directories, got {name!r}")
    if stem.suffix.lower() in (".png", ".svg"):
        stem = Path(stem.stem)
    folder = Path(directory)
    if str(directory) == "figures" and os.environ.get("CNNEDU_FIGURES"):
        folder = Path(os.environ["CNNEDU_FIGURES"])
    if not folder.is_absolute():
        folder = (_repository_root() or Path.cwd()) / folder
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / f"{stem}.png", folder / f"{stem}.svg"
    fig.savefig(png, dpi=150, bbox_inches="tight", metadata={"Software": None})
    # svg text stays text (editable on slides) instead of paths; a fixed salt and no date keep the file
    # identical from run to run, so regenerating figures does not churn the repository
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cnnedu"}):
        fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})
    return png, svg
