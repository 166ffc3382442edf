"""Copy files of npm packages into a folder, for pages and decks that must work offline (no CDN).

``npm pack`` downloads a package's tarball from the registry (or npm's cache) without installing anything;
``unpack`` extracts the files a page loads. make_slides.py (reveal.js, MathJax 2, require.js, jQuery) and
build_site.py (MathJax 3) use both.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path


def npm_pack(specs: Iterable[str], scratch: Path) -> dict[str, Path]:
    """``npm pack`` each spec ("name@version") into ``scratch``; return package name -> tarball.

    Raises RuntimeError with npm's first line when npm is missing or the registry cannot be reached.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed")
    done = subprocess.run([npm, "pack", *specs, "--json", "--prefer-offline", "--fetch-retries=1",
                           "--fetch-timeout=30000", "--loglevel=error"],
                          cwd=scratch, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"npm pack failed: {lines[0] if lines else done.returncode}")
    return {entry["name"]: scratch / entry["filename"] for entry in json.loads(done.stdout)}


def unpack(tarball: Path, patterns: Iterable[str], dest: Path) -> int:
    """Extract the files of a packed tarball whose path (under ``package/``) matches a glob; return how many."""
    patterns, count = list(patterns), 0
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if member.isfile() and any(fnmatch.fnmatchcase(name, p) for p in patterns):
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
                count += 1
    return count
