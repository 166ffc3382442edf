"""Build a reveal.js slide deck from every notebook: slides/NN_topic.slides.html.

    python scripts/make_slides.py [notebooks/NN_topic.ipynb ...] [--out slides] [--cdn]

Section headings are marked as slides and sub-sections as sub-slides in each notebook's cell metadata; the
deck shows the stored outputs, so no kernel is needed.

The decks work offline (a classroom projector often has no network): reveal.js, MathJax, require.js and
jQuery are copied once into <out>/vendor/ from the npm registry (`npm pack`, only the files a deck loads,
about 2 MB) and the decks load them by relative paths, so the whole folder can be copied to a USB stick and
opened from file://. Where npm or the registry is not reachable the script says so and the decks load those
libraries from their CDNs instead (as `--cdn` does).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from npm_vendor import npm_pack, unpack  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# npm package -> the files of it (globs under the tarball's package/) that a deck loads
REVEAL, MATHJAX, REQUIREJS, JQUERY = "reveal.js@4.0.2", "mathjax@2.7.9", "requirejs@2.3.8", "jquery@2.2.4"
LATO, NEWS_CYCLE = "@fontsource/lato@5.3.0", "@fontsource/news-cycle@5.3.0"
THEME = SlidesExporter().reveal_theme  # "simple"
VENDOR_FILES = {
    # the version nbconvert's reveal template is written for; the theme and the speaker-notes plugin it loads
    REVEAL: ["LICENSE", "dist/reveal.js", "dist/reveal.css", f"dist/theme/{THEME}.css", "plugin/notes/notes.js"],
    # MathJax 2 (the template calls MathJax.Hub): the TeX-AMS_CHTML-full config, its CommonHTML output and
    # TeX web fonts, the TeX extensions it may load on demand, the menu and the Safe config
    MATHJAX: ["LICENSE", "MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions/Safe.js",
              "extensions/MathMenu.js", "extensions/MathZoom.js", "extensions/HelpDialog.js",
              "extensions/a11y/accessibility-menu.js", "extensions/TeX/*.js", "jax/input/TeX/*.js",
              "jax/element/mml/*.js", "jax/element/mml/optable/*.js", "jax/output/CommonHTML/*.js",
              "jax/output/CommonHTML/autoload/*.js", "jax/output/CommonHTML/fonts/TeX/*.js",
              "fonts/HTML-CSS/TeX/woff/*.woff"],
    REQUIREJS: ["require.js"],
    JQUERY: ["LICENSE.txt", "dist/jquery.min.js"],
    # the "simple" theme's two typefaces, which it imports from Google Fonts
    LATO: ["LICENSE", "400.css", "700.css", "400-italic.css", "700-italic.css", "files/*-[47]00-*.woff2"],
    NEWS_CYCLE: ["LICENSE", "400.css", "700.css", "files/*-[47]00-*.woff2"],
}
# the theme's @imports from Google Fonts -> the local copies (under vendor/)
FONT_IMPORTS = {
    "https://fonts.googleapis.com/css?family=News+Cycle:400,700": [f"news-cycle/{w}.css" for w in ("400", "700")],
    "https://fonts.googleapis.com/css?family=Lato:400,700,400italic,700italic":
        [f"lato/{w}.css" for w in ("400", "700", "400-italic", "700-italic")],
}
STAMP = "VERSIONS.txt"
MATHJAX_CONFIG = "TeX-AMS_CHTML-full,Safe"  # nbconvert's default


def _folder(spec: str) -> str:
    """reveal.js@4.0.2 -> reveal.js; @fontsource/lato@5.3.0 -> lato"""
    name = spec[: spec.rindex("@")] if spec.rfind("@") > 0 else spec
    return name.removeprefix("@fontsource/")


def _local_fonts(css: str) -> str:
    for url, local in FONT_IMPORTS.items():
        css = css.replace(f"@import url({url});", "".join(f"@import url(../../../{p});" for p in local))
    if "fonts.googleapis.com" in css:
        raise RuntimeError("the reveal.js theme imports a web font that is not copied")
    return css


def _stamp() -> str:
    return "".join(f"{spec}\n" for spec in VENDOR_FILES)


def _ready(vendor: Path) -> bool:
    stamp = vendor / STAMP
    return stamp.is_file() and stamp.read_text(encoding="utf-8") == _stamp()


def _fetch(vendor: Path) -> None:
    """npm pack every package into a scratch folder and extract the listed files into vendor/."""
    with tempfile.TemporaryDirectory() as scratch:
        packed = {_folder(name): tarball for name, tarball in npm_pack(VENDOR_FILES, Path(scratch)).items()}
        staging = Path(tempfile.mkdtemp(prefix="vendor.", dir=vendor.parent))
        try:
            for spec, patterns in VENDOR_FILES.items():
                unpack(packed[_folder(spec)], patterns, staging / _folder(spec))
            theme = staging / _folder(REVEAL) / "dist" / "theme" / f"{THEME}.css"
            theme.write_text(_local_fonts(theme.read_text(encoding="utf-8")), encoding="utf-8")
            (staging / STAMP).write_text(_stamp(), encoding="utf-8")
            shutil.rmtree(vendor, ignore_errors=True)
            staging.rename(vendor)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def ensure_vendor(out_dir: Path) -> bool:
    """Put the libraries the decks load under out_dir/vendor/; False (and one line said) where that failed."""
    vendor = out_dir / "vendor"
    if _ready(vendor):
        return True
    out_dir.mkdir(parents=True, exist_ok=True)
    shipped = ROOT / "slides" / "vendor"
    try:
        if _ready(shipped) and shipped.resolve() != vendor.resolve():
            shutil.rmtree(vendor, ignore_errors=True)
            shutil.copytree(shipped, vendor)
        else:
            _fetch(vendor)
    except (OSError, RuntimeError, ValueError, KeyError, subprocess.SubprocessError, tarfile.TarError) as err:
        print(f"make_slides: no local copy of reveal.js/MathJax ({err}); the decks load them from CDNs and "
              "need a network", file=sys.stderr)
        return False
    return True


def build(path: Path, out_dir: Path, offline: bool = True) -> Path:
    """Write out_dir/<notebook>.slides.html; offline: with the libraries from out_dir/vendor/ (fetched once)."""
    exporter = SlidesExporter()
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    offline = offline and ensure_vendor(out_dir)
    if offline:  # relative to the deck, so that the folder can be moved and opened from file://
        exporter.reveal_url_prefix = f"vendor/{_folder(REVEAL)}"
        exporter.mathjax_url = f"vendor/{_folder(MATHJAX)}/MathJax.js?config={MATHJAX_CONFIG}"
        exporter.require_js_url = f"vendor/{_folder(REQUIREJS)}/require.js"
        exporter.jquery_url = f"vendor/{_folder(JQUERY)}/dist/jquery.min.js"
    nb = nbformat.read(path, as_version=4)
    body, _ = exporter.from_notebook_node(nb)
    if offline and "mermaid" not in json.dumps(nb.cells):
        # the template always imports Mermaid (diagrams) from a CDN; no notebook here draws one
        body = re.sub(r"<script type=\"module\">\s*import mermaid from .*?</script>\s*", "", body, flags=re.S)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{path.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "slides")
    parser.add_argument("--cdn", action="store_true", help="load reveal.js and MathJax from CDNs (no vendor/)")
    args = parser.parse_args(argv)
    offline = not args.cdn and ensure_vendor(args.out)
    for path in args.paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        print(build(path, args.out, offline=offline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
