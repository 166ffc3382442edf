"""A lecture deck builds from a notebook, one slide per marked section."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _slide_types(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c.get("metadata", {}).get("slideshow", {}).get("slide_type", "-") for c in nb["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_is_marked_for_slides(path):
    types = _slide_types(path)
    assert types.count("slide") >= 3, "mark section headings with slideshow.slide_type = 'slide'"


def test_a_deck_builds(tmp_path):
    from make_slides import build

    path = NOTEBOOKS[0]
    deck = build(path, tmp_path).read_text(encoding="utf-8")
    assert "reveal" in deck.lower()
    assert deck.count("<section") >= _slide_types(path).count("slide")
