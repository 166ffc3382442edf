"""Build the course website from the notebooks' stored outputs (nothing is executed): site/_build/html.

    python scripts/build_site.py [--out site/_build/html] [--no-slides] [--cdn]

Jupyter Book 1 (Sphinx, the sphinx-book-theme; ``pip install -e ".[site]"``). The book's sources are site/
(_config.yml, _toc.yml, the landing page index.md, a small Sphinx extension under _ext/); this script copies
them and the notebooks into a scratch folder and adds what is written in one place only elsewhere:

- the course map on the landing page: scripts/badges.py's ``course_map()``, the same table as the README's;
- the repository address and tag (badges.py's REPO and REF) for the theme's repository and launch buttons, and
  per notebook page the links that _ext/cnnedu_site.py puts under its title: Open in Colab and launch Binder (the
  notebook's own badges, from ``badge_line()``), download .ipynb (the notebook as it is in the repository) and
  its slide deck (slides/NN_topic.slides.html, built by scripts/make_slides.py into <out>/slides/);
- MathJax 3 under _static/mathjax/ from the npm registry (``npm pack``, the files a page loads, about 3 MB), so
  that the math renders offline; where npm or the registry cannot be reached the pages load it from a CDN
  (as ``--cdn`` does).

Sphinx runs in one process with warnings as errors: a broken cross-reference or a missing image stops the build.
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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from badges import BADGE_END, BADGE_START, MAP_END, MAP_START, badge_line, course_map  # noqa: E402
from npm_vendor import npm_pack, unpack  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
OUT = SITE / "_build" / "html"
NOTEBOOKS = ROOT / "notebooks"
MATHJAX = "mathjax@3.2.2"
# the files of it (globs under the tarball's package/) that a page loads: the combined TeX component, the TeX
# extensions it autoloads on demand, the CommonHTML fonts, the menu
MATHJAX_FILES = ["LICENSE", "es5/tex-mml-chtml.js", "es5/input/tex/extensions/*.js",
                 "es5/output/chtml/fonts/woff-v2/*.woff", "es5/ui/*.js"]
MATHJAX_PATH = "mathjax/es5/tex-mml-chtml.js"  # relative to _static/, where Sphinx resolves mathjax_path
# copied into the site's _static/ by the extension; not site/_static/, whose .js Jupyter Book adds to every page
VENDOR = "_vendor"


# inline $...$ (not $$, not a price) within one paragraph, and the code spans and fences to leave alone
INLINE_MATH = re.compile(r"(?<![\\$])\$(?![\s$])((?:(?!\n\s*\n)[^$])+?)(?<![\s\\])\$(?![$\d])")
CODE = re.compile(r"(```.*?```|`[^`]*`)", re.S)


def one_line_math(source: str) -> str:
    """Inline math joined onto one line. JupyterLab takes the math out of a markdown cell before it parses the
    markdown, MyST after: a line wrapped inside $...$ that starts with "+ " or "1. " would begin a list here."""
    parts = CODE.split(source)
    for i in range(0, len(parts), 2):
        parts[i] = INLINE_MATH.sub(lambda m: "$" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "$", parts[i])
    return "".join(parts)


BADGES = re.compile(re.escape(BADGE_START) + r".*?" + re.escape(BADGE_END) + r"\n?", re.S)


def stage_notebook(path: Path, target: Path) -> None:
    """The notebook as the book reads it: its outputs as stored, its inline math on one line, and without its
    badges (the page's own links, the same addresses, replace them: no images from other sites on the page)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    changed = False
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            new = one_line_math(BADGES.sub("", source))
            if new != source:
                cell["source"], changed = new, True
    if changed:
        target.write_text(json.dumps(nb, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        shutil.copy2(path, target)


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def page_links(path: Path, slides: bool) -> dict[str, str]:
    """The links at the top of a notebook's page; Colab and Binder exactly as in the notebook's badges."""
    colab, binder = re.findall(r"\)\]\((https://[^)\s]+)\)", badge_line(path))
    links = {"colab": colab, "binder": binder, "download": f"_sources/notebooks/{path.name}"}
    if slides:
        links["slides"] = f"slides/{path.stem}.slides.html"
    return links


def landing_page(template: str) -> str:
    """site/index.md with the course map (badges.course_map(), markers included) between its markers."""
    pattern = re.compile(re.escape(MAP_START) + r".*?" + re.escape(MAP_END), re.S)
    if not pattern.search(template):
        raise SystemExit(f"build_site: site/index.md has no {MAP_START} ... {MAP_END} block for the course map")
    return pattern.sub(lambda _m: course_map(), template, count=1)


def fetch_mathjax(static: Path) -> bool:
    """MathJax 3 into static/mathjax/ from the npm registry; False (and one line said) where that failed."""
    try:
        with tempfile.TemporaryDirectory() as scratch:
            (tarball,) = npm_pack([MATHJAX], Path(scratch)).values()
            unpack(tarball, MATHJAX_FILES, static / "mathjax")
        if not (static / MATHJAX_PATH).is_file():
            raise RuntimeError(f"{MATHJAX_PATH} is not in the package")
    except (OSError, RuntimeError, ValueError, KeyError, IndexError, subprocess.SubprocessError,
            tarfile.TarError) as err:
        print(f"build_site: no local copy of MathJax ({err}); the pages load it from a CDN and need a network",
              file=sys.stderr)
        return False
    return True


def stage(work: Path, slides: bool, offline: bool) -> None:
    """The book's sources in work/: site/, the landing page with the course map, the notebooks, the links."""
    shutil.copytree(SITE, work, ignore=shutil.ignore_patterns("_build", "__pycache__", ".ipynb_checkpoints"))
    index = work / "index.md"
    index.write_text(landing_page(index.read_text(encoding="utf-8")), encoding="utf-8")
    (work / "notebooks").mkdir()
    for path in notebooks():
        stage_notebook(path, work / "notebooks" / path.name)
    from badges import REF, REPO

    data = {
        "repo": REPO, "ref": REF,
        "mathjax_path": MATHJAX_PATH if offline and fetch_mathjax(work / VENDOR) else None, "vendor": VENDOR,
        "pages": {f"notebooks/{p.stem}": page_links(p, slides) for p in notebooks()},
    }
    (work / "_cnnedu_site.json").write_text(json.dumps(data, indent=1), encoding="utf-8")


def build(out: Path = OUT, slides: bool = True, offline: bool = True, quiet: bool = True) -> Path:
    """Build the site into out/ (replaced when it holds an earlier build) and return out/index.html."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.exists():
        raise SystemExit('build_site: Jupyter Book is not installed: pip install -e ".[site]" (make site does)')
    out = out.resolve()
    if (out / ".buildinfo").exists():  # an earlier Sphinx build: start afresh (pages of removed notebooks go)
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="cnnedu-site.") as scratch:
        work = Path(scratch) / "book"
        stage(work, slides, offline)
        # Jupyter Book 1 turns _config.yml and _toc.yml into a Sphinx conf.py; Sphinx then builds in one process
        subprocess.run([str(jupyter_book), "config", "sphinx", str(work)], check=True, capture_output=quiet)
        with (work / "conf.py").open("a", encoding="utf-8") as conf:  # `config sphinx` leaves out local extensions
            conf.write("\nimport sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parent / '_ext'))\n")
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-d",
                   str(work / "_build" / "doctrees"), str(work), str(out)]
        done = subprocess.run([*command, "-q"] if quiet else command)
        if done.returncode != 0:
            raise SystemExit(f"build_site: Sphinx failed (exit {done.returncode}); see the warnings above")
    for path in notebooks():  # the downloads (_sources/) are the repository's notebooks, byte for byte
        shutil.copy2(path, out / "_sources" / "notebooks" / path.name)
    if slides:  # the decks as `make slides` builds them, next to the pages that link to them
        deck = [sys.executable, str(ROOT / "scripts" / "make_slides.py"), "--out", str(out / "slides")]
        subprocess.run([*deck, *([] if offline else ["--cdn"])], check=True, stdout=subprocess.DEVNULL)
    (out / ".nojekyll").touch()  # GitHub Pages: serve _static/ and _images/ as they are
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="the HTML folder (default: site/_build/html)")
    parser.add_argument("--no-slides", action="store_true", help="do not build the slide decks into <out>/slides")
    parser.add_argument("--cdn", action="store_true", help="load MathJax (and the decks' libraries) from CDNs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    index = build(args.out, slides=not args.no_slides, offline=not args.cdn, quiet=not args.verbose)
    print(f"build_site: {index} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
