"""The course website (make site, scripts/build_site.py): built once into a scratch folder, then checked.

Without a browser: no broken internal link and no missing image on any page, every stored figure on its page,
the landing page is badges.course_map(), one page per notebook in order with its sections in the sidebar, the
Colab / Binder / download / slides links, the search index, the GitHub Pages workflow and the command it runs.
In headless Chromium (as tests/test_browser.py, skipped without it): the math is rendered, the figures load and
the search finds "squeeze"; screenshots go to tests/screenshots/site_*.png.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from badges import REF, REPO, course_map  # noqa: E402
from build_site import OUT, page_links  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site built once per test run (under pytest-xdist, once for all workers: the others wait for it)."""
    if shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) is None:
        pytest.fail('Jupyter Book is not installed: pip install -e ".[site]"')
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # this run's folder, common to its workers
    out, log = shared / "site" / "html", shared / "site.log"
    with open(shared / "site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not log.exists():
            start = time.perf_counter()
            done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py"), "--out", str(out)],
                                  capture_output=True, text=True, cwd=ROOT)
            log.write_text(json.dumps({"rc": done.returncode, "seconds": time.perf_counter() - start,
                                       "output": done.stdout + done.stderr}))
    result = json.loads(log.read_text())
    assert result["rc"] == 0, f"scripts/build_site.py failed:\n{result['output'][-4000:]}"
    print(f"site built in {result['seconds']:.0f} s")
    return out


class Page(HTMLParser):
    """The links, images, ids, elements by class and text (outside code) of one HTML page."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.path, self.refs, self.ids, self.text = path, [], set(), []
        self.stack: list[tuple[str, str]] = []  # (tag, class) of the open elements
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) is not None and tag in ("a", "img", "link", "script", "source", "iframe"):
                self.refs.append((tag, key, a[key], a.get("class") or "", self.inside()))
        if tag not in self.VOID:
            self.stack.append((tag, a.get("class") or ""))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if not any(t in ("script", "style", "pre", "code") or "math" in c.split() for t, c in self.stack):
            self.text.append(data)

    def inside(self) -> str:
        return " ".join(c for _, c in self.stack)

    def links(self, within: str, tag: str = "a") -> list[str]:
        return [v for t, _, v, _, where in self.refs if t == tag and within in where.split()]


@functools.cache
def parsed(path: Path) -> Page:
    return Page(path)


def _pages(site: Path) -> list[Path]:
    # the pages, not the decks (slides/) nor the theme's template snippets (_static/)
    return sorted(p for p in site.rglob("*.html") if not {"slides", "_static"} & set(p.relative_to(site).parts))


def _page(site: Path, nb: Path) -> Page:
    return parsed(site / "notebooks" / f"{nb.stem}.html")


def test_no_broken_internal_link_or_missing_image(site):
    broken = []
    for path in _pages(site):
        page = parsed(path)
        for tag, key, value, _, _ in page.refs:
            parts = urlsplit(value)
            if parts.scheme or value.startswith("//") or not (parts.path or parts.fragment):
                continue  # external (checked by nobody here: no network), or "#"
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            where = f"{path.relative_to(site)}: <{tag} {key}={value!r}>"
            if not target.is_file():
                broken.append(f"{where}: no such file")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in parsed(target).ids:
                broken.append(f"{where}: no id {parts.fragment!r} there")
    assert not broken, f"{len(broken)} broken internal links or missing images:\n" + "\n".join(broken[:30])


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_is_on_its_page(site, nb):
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    stored = sum(any(m in out.get("data", {}) for m in IMAGE_MIMES) for c in cells for out in c.get("outputs", []))
    shown = [v for t, _, v, _, where in _page(site, nb).refs if t == "img" and "cell_output" in where.split()]
    assert len(shown) == stored, f"{stored} figures stored in {nb.name}, {len(shown)} on its page"
    for src in shown:
        assert (site / "notebooks" / src).stat().st_size > 100, f"{src} is empty"


def test_landing_page_is_the_course_map(site):
    """The README's table, from badges.course_map(): the same rows, the same links (notebooks as pages)."""
    rows = [r for r in course_map().splitlines() if re.match(r"\| \d\d \|", r)]
    assert len(rows) == len(NOTEBOOKS)
    expected = [re.sub(r"^notebooks/(.*)\.ipynb$", r"notebooks/\1.html", url)
                for row in rows for url in re.findall(r"\]\(([^)]+)\)", row)]
    index = parsed(site / "index.html")
    table = [v for t, _, v, _, where in index.refs if t == "a" and "table" in where.split()]
    assert table == expected
    text = " ".join(index.text)
    for row in rows:  # paper, year, idea: every cell's text, without its links
        for cell in row.strip("|").split("|")[2:6]:
            assert cell.strip() in text


def test_one_page_per_notebook_in_order_with_sections_in_the_sidebar(site):
    nav = [v for v in parsed(site / "index.html").links("bd-sidenav") if v != "#"]
    assert nav == [f"notebooks/{nb.stem}.html" for nb in NOTEBOOKS]
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        sections = [line for c in cells if c["cell_type"] == "markdown"
                    for line in "".join(c["source"]).splitlines() if line.startswith("## ")]
        toc = _page(site, nb).links("page-toc")
        assert len(toc) >= len(sections) > 0, f"{nb.name}: {len(sections)} sections, {len(toc)} in the sidebar"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_binder_download_and_slides_links(site, nb):
    page = _page(site, nb)
    bar = page.links("cnnedu-links")
    links = page_links(nb, slides=True)
    assert bar[:2] == [links["colab"], links["binder"]], "not the notebook's own badges (scripts/badges.py)"
    theme = f"https://mybinder.org/v2/gh/{REPO}/{REF}?urlpath=lab/tree/notebooks/{nb.name}"
    assert theme in page.links("dropdown-menu"), "the theme's launch buttons do not name badges.REPO and REF"
    download, slides = (site / "notebooks" / href for href in bar[2:4])
    assert download.read_bytes() == nb.read_bytes(), "the download is not the repository's notebook"
    assert slides.name == f"{nb.stem}.slides.html" and "reveal" in slides.read_text(encoding="utf-8").lower()


def test_explorers_show_their_stored_figure(site):
    explorers = [nb for nb in NOTEBOOKS if "application/vnd.jupyter.widget-view+json" in nb.read_text("utf-8")]
    assert explorers
    for nb in explorers:
        html = (site / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
        assert "widget-view+json" not in html, f"{nb.name}: an empty widget placeholder instead of its fallback"
        assert "interactive controls" in html


def test_math_uses_the_local_mathjax(site):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the site loads MathJax from a CDN")
    page = _page(site, NOTEBOOKS[5])
    scripts = [v for t, _, v, _, _ in page.refs if t == "script" and "mathjax" in v.lower()]
    assert scripts and not urlsplit(scripts[0]).scheme, f"MathJax is not the local copy: {scripts}"
    assert (page.path.parent / urlsplit(scripts[0]).path).is_file()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_all_math_is_marked_up(site, nb):
    """Every $...$ and $$...$$ became a math element: no dollar or TeX command left in the text around them."""
    page = _page(site, nb)
    assert "math notranslate" in page.path.read_text(encoding="utf-8")
    text = " ".join(page.text)
    raw = re.findall(r"\$[^$\s][^$]{0,80}\$|\\[A-Za-z]{2,}\b", text)
    assert not raw, f"TeX left as text on the page of {nb.name}: {raw[:5]}"


def test_the_search_index_knows_squeeze(site):
    index = (site / "searchindex.js").read_text(encoding="utf-8")
    assert '"squeez"' in index  # Sphinx's stemmed term for squeeze / squeezes / squeezed


def test_pages_workflow_builds_and_publishes_the_site_on_a_tag():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["tags"], "the workflow must run on a tag"
    assert {"pages": "write", "id-token": "write"}.items() <= workflow["permissions"].items()
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert "make site" in runs
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert (ROOT / upload["with"]["path"]).resolve() == OUT.resolve(), "the artifact is not what make site builds"
    assert deploy["needs"] == "build"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])
    # the command it runs: a Makefile rule that builds the site with scripts/build_site.py
    dry = subprocess.run(["make", "-n", "site"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, f"make -n site: {dry.stderr.strip()}"
    assert "scripts/build_site.py" in dry.stdout


# ----------------------------------------------------------------------------------------------- in a browser

@pytest.fixture(scope="module")
def served(site):
    """The site over http on localhost (search and MathJax's fonts load as on GitHub Pages)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): browser test skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: browser test skipped")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield chromium
        chromium.close()


MATH_DONE = """async () => {
  if (!document.querySelector('.math')) return 0;
  await window.MathJax.startup.promise;
  return document.querySelectorAll('mjx-container').length;
}"""

RAW_MATH = r"""() => {
  const article = document.querySelector('article').cloneNode(true);
  article.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());
  const text = article.textContent;
  return (text.match(/\$[^$\s][^$]{0,80}\$|\\\(|\\\[/g) || []).slice(0, 5);
}"""

BROKEN_IMAGES = """() => [...document.querySelectorAll('article img')]
  .filter(i => new URL(i.src).origin === location.origin && !(i.complete && i.naturalWidth > 0)).map(i => i.src)"""

# the figure with rendered math closest above it: its bottom at the window's bottom (the math at the window's top
# when they do not fit in one window); returns whether the window shows both
MATH_AND_FIGURE = """(height) => {
  const y = window.scrollY;
  const maths = [...document.querySelectorAll('article mjx-container')].map(m => m.getBoundingClientRect().top + y);
  let best = null;
  for (const img of document.querySelectorAll('article .cell_output img')) {
    const r = img.getBoundingClientRect(), bottom = r.bottom + y;
    const above = maths.filter(t => t < r.top + y);
    if (!above.length) continue;
    const gap = bottom - Math.max(...above);
    if (!best || gap < best.gap) best = {gap, bottom, math: Math.max(...above)};
  }
  if (!best) return false;
  window.scrollTo(0, best.gap < height - 40 ? best.bottom - height + 20 : best.math - 80);
  return best.gap < height - 40;
}"""


@pytest.mark.browser
@pytest.mark.parametrize("stem", [NOTEBOOKS[5].stem, NOTEBOOKS[12].stem], ids=["resnet", "senet"])
def test_page_in_browser_math_and_figures(served, browser, stem):
    """Math typeset by the local MathJax, no TeX left as text, every figure loaded; two screenshots per page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{served}/notebooks/{stem}.html", wait_until="load", timeout=60_000)
        if page.locator("script[src*='://'][src*='mathjax']").count():
            pytest.skip("MathJax comes from a CDN here (npm is not installed), which an offline browser cannot load")
        rendered = page.evaluate(MATH_DONE)
        assert rendered > 0, "MathJax rendered nothing"
        assert page.evaluate(RAW_MATH) == [], "raw TeX left in the page text"
        assert page.locator("article .cell_output img").count() > 0
        assert page.evaluate(BROKEN_IMAGES) == [], "figures that did not load"
        assert page.locator(".cnnedu-links a").count() == 4
        page.screenshot(path=str(SCREENSHOTS / f"site_{stem}_top.png"))
        both = page.evaluate(MATH_AND_FIGURE, 1000)
        time.sleep(0.3)
        page.screenshot(path=str(SCREENSHOTS / f"site_{stem}_figure.png"))
        if stem == NOTEBOOKS[12].stem:  # the screenshot shows a figure and rendered math together
            assert both, "no figure with math less than a window above it"
    finally:
        page.close()


@pytest.mark.browser
def test_landing_page_and_search_in_browser(served, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{served}/index.html", wait_until="load", timeout=60_000)
        assert page.locator("article table tbody tr").count() == len(NOTEBOOKS)
        assert page.locator("nav.bd-docs-nav a[href^='notebooks/']").count() == len(NOTEBOOKS)
        page.screenshot(path=str(SCREENSHOTS / "site_landing.png"))

        page.goto(f"{served}/search.html?q=squeeze", wait_until="load", timeout=60_000)
        hits = page.locator("#search-results ul.search li a")
        hits.first.wait_for(timeout=60_000)
        found = [hits.nth(i).get_attribute("href") for i in range(hits.count())]
        assert any(f"{NOTEBOOKS[12].stem}.html" in h for h in found), found
        page.screenshot(path=str(SCREENSHOTS / "site_search.png"))
    finally:
        page.close()
