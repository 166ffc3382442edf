"""Sphinx extension of the course website: what scripts/build_site.py computed, put into the pages.

build_site.py writes ``_cnnedu_site.json`` into the book's source folder: the repository and tag (scripts/badges.py's
REPO and REF), the local MathJax path (or none: then Sphinx's CDN default) and, per notebook page, its links
(Open in Colab and launch Binder, exactly the notebook's badges; download .ipynb; the slide deck). This extension
sets the theme's repository, launch and download buttons from them and puts the links under the title of each page.

It also marks up the math in raw HTML (a ``<details>`` answer in a markdown cell, an HTML output such as a
widget's readout), which JupyterLab typesets and MyST leaves as text: ``$...$`` becomes Sphinx's math element.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from docutils import nodes

DATA = "_cnnedu_site.json"


def _data(app) -> dict:
    path = Path(app.srcdir) / DATA
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _configure(app, config) -> None:
    data = _data(app)
    app.env_cnnedu = data  # read again by _links (the environment may be pickled: keep it off there)
    options = config.html_theme_options
    if data.get("repo"):
        options["repository_url"] = f"https://github.com/{data['repo']}"
        options["repository_branch"] = data["ref"]
        options["path_to_docs"] = ""  # the notebooks sit at notebooks/NN_topic.ipynb here and in the repository
        options["use_repository_button"] = True
    options["use_download_button"] = True  # .ipynb (the notebook as it is in the repository) and print to PDF
    options["show_toc_level"] = 2  # the notebook's sections in the right-hand sidebar
    if data.get("mathjax_path"):  # the local copy: its folder goes into the site's _static/
        config.html_static_path = [*config.html_static_path, data["vendor"]]
        config.mathjax_path = data["mathjax_path"]  # relative to _static/


def _links(app, pagename, templatename, context, doctree) -> None:
    links = app.env_cnnedu.get("pages", {}).get(pagename)
    if not links or "body" not in context:
        return
    pathto = context["pathto"]
    items = []
    for key, label in (("colab", "Open in Colab"), ("binder", "launch Binder"), ("download", "download .ipynb"),
                       ("slides", "slides")):
        url = links.get(key)
        if not url:
            continue
        external = "://" in url
        href = url if external else pathto(url, 1)
        extra = ' target="_blank" rel="noopener"' if external else (" download" if key == "download" else "")
        items.append(f'<a class="cnnedu-{key}" href="{html.escape(href)}"{extra}>'
                     f"{label}</a>")
    bar = f'\n<div class="cnnedu-links">{" ".join(items)}</div>'
    body = context["body"]
    end = body.find("</h1>")  # under the title
    context["body"] = body[: end + 5] + bar + body[end + 5:] if end >= 0 else bar + body


# $...$ or $$...$$ that does not cross a tag and is not a price ($5): the notation JupyterLab typesets
MATH = re.compile(r"(?<![\\$])(\$\$?)(?![\s$])([^$<>]+?)(?<![\s\\])\1(?![$\d])")


def _math_span(m: re.Match) -> str:
    tex = m.group(2)
    wrapped = f"\\[{tex}\\]" if m.group(1) == "$$" else f"\\({tex}\\)"
    return f'<span class="math notranslate nohighlight">{wrapped}</span>'


def _raw_math(app, doctree, docname) -> None:
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if "html" in raw.get("format", "").split() and "$" in text and "<script" not in text:
            marked = MATH.sub(_math_span, text)
            if marked != text:
                raw.replace_self(nodes.raw(marked, marked, format="html"))


def setup(app):
    app.connect("doctree-resolved", _raw_math)
    app.connect("config-inited", _configure)
    app.connect("html-page-context", _links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
