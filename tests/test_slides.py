"""A lecture deck builds from a notebook, one slide per marked section."""

from __future__ import annotations

import json
import re
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
    deck = build(path, tmp_path, offline=False).read_text(encoding="utf-8")
    assert "reveal" in deck.lower()
    assert deck.count("<section") >= _slide_types(path).count("slide")


def test_an_offline_deck_loads_only_files_next_to_it(tmp_path):
    """`make slides` copies reveal.js and MathJax into slides/vendor/ and the decks load them by relative paths."""
    import make_slides

    if not make_slides.ensure_vendor(tmp_path):
        pytest.skip("could not fetch reveal.js/MathJax from the npm registry: offline deck test skipped")
    vendor = tmp_path / "vendor"
    size = sum(f.stat().st_size for f in vendor.rglob("*") if f.is_file())
    assert size < 4_000_000, f"slides/vendor/ holds {size / 1e6:.1f} MB: copy only the files a deck loads"
    theme = (vendor / "reveal.js" / "dist" / "theme" / f"{make_slides.THEME}.css").read_text(encoding="utf-8")
    assert "//" not in "".join(re.findall(r"@import url\(([^)]*)\)", theme)), "the theme imports remote fonts"

    deck = make_slides.build(NOTEBOOKS[0], tmp_path).read_text(encoding="utf-8")
    loaded = re.findall(r"<script[^>]* src=\"([^\"]+)\"|<link[^>]* href=\"([^\"]+)\"", deck)
    urls = [a or b for a, b in loaded]
    assert len(urls) >= 5, urls
    for url in urls:
        assert "//" not in url, f"the deck loads {url} from the network"
        assert (tmp_path / url.split("?")[0]).is_file(), f"{url} is missing from vendor/"
    assert "import mermaid" not in deck and "cdnjs" not in deck and "unpkg" not in deck


def test_without_npm_the_decks_fall_back_to_the_cdn(tmp_path, monkeypatch, capsys):
    import make_slides

    monkeypatch.setattr(make_slides.shutil, "which", lambda name: None)
    monkeypatch.setattr(make_slides, "ROOT", tmp_path)  # no slides/vendor/ to copy from
    assert not make_slides.ensure_vendor(tmp_path / "slides")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "npm is not installed" in err and "CDN" in err
    assert not (tmp_path / "slides" / "vendor").exists()
