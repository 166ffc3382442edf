"""End to end in a real browser: JupyterLab on localhost, driven by headless Chromium through Playwright.

Opens the SENet, MobileNet v1 and EfficientNet notebooks, runs them, moves the reduction-ratio, width-multiplier
and phi sliders, and checks that the numbers and the figure change; opens a `make slides` deck from file:// with
the network off. Screenshots go to tests/screenshots/.
Skipped, with a message, where Chromium or Playwright is not installed (`.ci/run` installs Chromium).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "screenshots"
NOTEBOOK_DIR = Path(os.environ.get("CNNEDU_NOTEBOOK_DIR", ROOT / "notebooks"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CASES = [  # notebook, slider label, key presses (ArrowRight) to move it
    ("12_senet.ipynb", "reduction r", 4),
    ("10_mobilenet_v1.ipynb", "width α", 3),
    ("14_efficientnet.ipynb", "φ", 2),
]

pytestmark = pytest.mark.browser

if CHROMIUM is None:
    pytest.skip("Chromium is not installed (apt-get install chromium): browser test skipped", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: browser test skipped")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on localhost over a scratch copy of the notebooks."""
    workdir = tmp_path_factory.mktemp("lab")
    for name, _, _ in CASES:
        if (NOTEBOOK_DIR / name).exists():
            shutil.copy(NOTEBOOK_DIR / name, workdir / name)
    # no "get notified about Jupyter news?" prompt over the screenshots
    notification = workdir / ".settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false"}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["CNNEDU_FIGURES"] = str(workdir / "figures")  # the notebooks' save_figure must not touch figures/
    jupyter = Path(sys.executable).with_name("jupyter")
    server = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={workdir}", "--expose-app-in-browser",
         f"--LabApp.user_settings_dir={workdir / '.settings'}", f"--LabApp.workspaces_dir={workdir / '.workspaces'}",
         "--allow-root", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start on localhost within 60 s")
    yield url, token, workdir
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS,
        )
        yield chromium
        chromium.close()


RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.context.sessionContext.ready;
  app.commands.execute('notebook:run-all-cells');  // not awaited: progress is polled below
}"""

BUSY = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.context.sessionContext.session?.kernel;
  const pending = [...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));
  return !kernel || kernel.status !== 'idle' || pending;
}"""


@pytest.mark.parametrize("notebook, label, presses", CASES, ids=[c[0] for c in CASES])
def test_slider_changes_numbers_and_figure(lab, browser, notebook, label, presses):
    url, token, workdir = lab
    if not (workdir / notebook).exists():
        pytest.fail(f"notebooks/{notebook} is missing")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # a workspace of its own, reset, so that tabs left open by another test are not restored
        stem = Path(notebook).stem
        page.goto(f"{url}/lab/workspaces/{stem}/tree/{notebook}?reset&token={token}", timeout=60_000)
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget?.context",
                               timeout=60_000)
        page.evaluate(RUN_ALL)
        time.sleep(2)
        page.wait_for_function(f"() => !({BUSY})()", timeout=300_000, polling=1000)
        tracebacks = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").count()
        assert tracebacks == 0, f"{notebook}: a cell raised an error in JupyterLab"

        slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text=label)).first
        slider.scroll_into_view_if_needed()
        cell = page.locator(".jp-Cell", has=slider).first

        def shown() -> tuple[str, str | None]:
            # text_content, not inner_text: JupyterLab may not lay out cells outside the viewport
            readouts, images = cell.locator(".cnnedu-readout"), cell.locator(".jp-OutputArea-output img")
            text = readouts.first.text_content() if readouts.count() else ""
            return (text or "").strip(), images.last.get_attribute("src") if images.count() else None

        deadline = time.time() + 60
        before_text, before_img = shown()
        while time.time() < deadline and not (before_text and before_img):
            time.sleep(0.5)
            before_text, before_img = shown()
        assert before_text and before_img, "the widget shows no numbers or no figure for its default values"

        def snap(when: str) -> None:
            # the figure's bottom at the window's bottom: the sliders, the numbers and the figure in one picture
            cell.locator(".jp-OutputArea-output img").last.evaluate("e => e.scrollIntoView({block: 'end'})")
            time.sleep(0.3)
            page.screenshot(path=str(SCREENSHOTS / f"{Path(notebook).stem}_{when}.png"))

        snap("before")

        handle = slider.locator(".noUi-handle").first
        handle.focus()
        for _ in range(presses):
            page.keyboard.press("ArrowRight")
        # the display is replaced (new elements), so read the cell afresh until both have changed
        deadline, after_text, after_img = time.time() + 90, before_text, before_img
        while time.time() < deadline and (after_text == before_text or after_img == before_img):
            time.sleep(0.5)
            after_text, after_img = shown()
        snap("after")
        assert after_text != before_text, f"the numbers did not change: {after_text!r}"
        assert after_img != before_img, "the figure did not change"
        assert any(ch.isdigit() for ch in after_text)
    finally:
        page.close()


def test_live_slideshow(lab, browser):
    """RISE presents a notebook as reveal.js slides inside Jupyter, one slide per marked section."""
    url, token, workdir = lab
    notebook = CASES[0][0]
    cells = json.loads((workdir / notebook).read_text(encoding="utf-8"))["cells"]
    types = [c.get("metadata", {}).get("slideshow", {}).get("slide_type", "-") for c in cells]
    # one slide per cell marked "slide", plus the title slide when the first cell is not marked itself
    expected = types.count("slide") + (types[0] != "slide")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{url}/rise/{notebook}?token={token}", timeout=60_000)
        page.wait_for_selector(".reveal .slides > section", timeout=120_000)
        time.sleep(2)
        assert page.locator(".reveal .slides > section").count() == expected
        title = page.locator(".reveal .slides > section").first.text_content() or ""
        assert "SENet" in title or "Squeeze" in title, title[:200]
        start = page.url  # reveal.js keeps the current slide in the address: ...#/slide-0-0
        for _ in range(2):  # two sections on: the arrow keys move through the deck
            page.keyboard.press("ArrowRight")
            time.sleep(1)
        assert page.url != start, "the arrow keys did not move the slideshow"
        assert page.locator(".reveal .slides > section.present").count() == 1
        page.screenshot(path=str(SCREENSHOTS / f"{Path(notebook).stem}_slides.png"))
    finally:
        page.close()


# a deck's state once loaded: reveal's layout, MathJax's output, and the raw TeX left in the slides' visible text
DECK_STATE = """() => {
  const slides = document.querySelector('.reveal .slides');
  const text = [...document.querySelectorAll('.reveal .jp-RenderedMarkdown')].map(el => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let out = '';
    while (walker.nextNode()) {
      const parent = walker.currentNode.parentElement;
      if (!parent.closest('script, style, code, pre')) out += walker.currentNode.nodeValue;
    }
    return out;
  }).join('\\n');
  const raw = text.match(/\\$[^$\\n]+\\$|\\\\[(\\[]|\\\\(frac|sigma|mathbf|cdot|times|sum|in)\\b/g) || [];
  const h1 = document.querySelector('.reveal h1');
  return {
    ready: !!document.querySelector('.reveal.ready'),
    present: document.querySelectorAll('.reveal .slides > section.present').length,
    sections: document.querySelectorAll('.reveal .slides > section').length,
    slidesWidth: slides && slides.style.width,  // reveal sets the configured size
    sectionPosition: getComputedStyle(document.querySelector('.reveal .slides > section')).position,
    controls: !!document.querySelector('.reveal .controls .navigate-right'),
    headingFont: h1 ? getComputedStyle(h1).fontFamily : '',
    headingFontLoaded: [...document.fonts].some(f => f.family.includes('News Cycle') && f.status === 'loaded'),
    math: document.querySelectorAll('.reveal .MathJax_CHTML').length,
    mathErrors: document.querySelectorAll('.reveal .MathJax_CHTML merror, .reveal .mjx-merror').length,
    mathFontLoaded: [...document.fonts].some(f => f.family === 'MJXc-TeX-main-Rw' && f.status === 'loaded'),
    raw: raw.slice(0, 5),
  };
}"""

# the first slide (h, v) that shows display math, for the screenshot
DISPLAY_MATH_SLIDE = """() => {
  const top = [...document.querySelectorAll('.reveal .slides > section')];
  for (let h = 0; h < top.length; h++) {
    const inner = top[h].querySelectorAll(':scope > section');
    const parts = inner.length ? [...inner] : [top[h]];
    for (let v = 0; v < parts.length; v++) if (parts[v].querySelector('.MJXc-display')) return [h, v];
  }
  return null;
}"""


def _in_thread(fn) -> None:
    """Run ``fn`` in a new thread (no asyncio loop there) and re-raise what it raised."""
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(err)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def test_slide_deck_offline(tmp_path):
    """`make slides` output opened from file:// with no network: reveal.js lays out the deck, MathJax typesets."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_slides import build, ensure_vendor

    notebook = NOTEBOOK_DIR / CASES[0][0]
    if not ensure_vendor(tmp_path):
        pytest.skip("could not fetch reveal.js/MathJax from the npm registry (see the line above): offline deck "
                    "test skipped")
    deck = build(notebook, tmp_path)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    def open_deck() -> None:
        with sync_api.sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=[*CHROMIUM_FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND"])
            try:
                context = chromium.new_context(viewport={"width": 1280, "height": 800}, offline=True)
                page = context.new_page()
                requests: list = []
                failed: list[str] = []
                page.on("request", lambda r: requests.append(r))
                page.on("requestfailed", lambda r: failed.append(r.url))
                page.goto(deck.as_uri(), timeout=30_000)
                page.wait_for_function(
                    "() => document.querySelector('.reveal.ready') && window.MathJax && MathJax.Hub"
                    " && MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running", timeout=30_000)
                page.evaluate("() => document.fonts.ready.then(() => true)")
                state = page.evaluate(DECK_STATE)

                assert state["ready"], "reveal.js did not start (no .reveal.ready)"
                assert state["present"] == 1 and state["sections"] >= 3, state
                assert state["slidesWidth"] == "960px", f"reveal's layout is not applied: {state}"
                assert state["sectionPosition"] == "absolute", f"reveal.css is not applied: {state}"
                assert state["controls"], "reveal's controls are missing"
                assert "News Cycle" in state["headingFont"] and state["headingFontLoaded"], f"theme font: {state}"
                assert state["math"] > 0, "MathJax rendered no math"
                assert state["mathErrors"] == 0, f"{state['mathErrors']} TeX errors in the deck"
                assert state["mathFontLoaded"], "MathJax's web fonts did not load from vendor/"
                assert not state["raw"], f"raw TeX in the slides' text: {state['raw']}"
                # everything the deck runs on came from the folder; only pictures linked from the notebook are remote
                remote = [r.url for r in requests if not r.url.startswith(("file:", "data:"))
                          and r.resource_type != "image"]
                assert not remote, f"the deck loads from the network: {remote}"
                missing = [u for u in failed if u.startswith("file:")]
                assert not missing, f"files missing from slides/vendor: {missing}"

                where = page.evaluate(DISPLAY_MATH_SLIDE)
                assert where, "no slide shows display math"
                page.evaluate(f"() => {{ location.hash = '#/{where[0]}/{where[1]}'; }}")
                page.wait_for_function(
                    "() => document.querySelector('.reveal .slides section.present .MJXc-display')", timeout=10_000)
                page.wait_for_timeout(1500)  # the slide transition and MathJax's re-render
                page.screenshot(path=str(SCREENSHOTS / f"{notebook.stem}_deck_offline.png"))
            finally:
                chromium.close()

    # in a thread of its own: Playwright's sync API refuses to start where an asyncio loop runs, as one
    # does in this worker while the module's JupyterLab browser (or another test's) is open
    _in_thread(open_deck)
