"""Build a reveal.js slide deck from every notebook: slides/NN_topic.slides.html.

    python scripts/make_slides.py [notebooks/NN_topic.ipynb ...] [--out slides]

Section headings are marked as slides and sub-sections as sub-slides in each notebook's cell metadata; the
deck shows the stored outputs, so no kernel is needed. reveal.js itself is loaded from a CDN when the deck
is opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

ROOT = Path(__file__).resolve().parents[1]


def build(path: Path, out_dir: Path) -> Path:
    exporter = SlidesExporter()
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{path.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "slides")
    args = parser.parse_args(argv)
    for path in args.paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        print(build(path, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
