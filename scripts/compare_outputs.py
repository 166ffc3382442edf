"""Compare the checked outputs of executed notebooks with the stored ones, as nbval would.

    python scripts/compare_outputs.py OUT/executed              # each executed notebook against notebooks/
    python scripts/compare_outputs.py OUT/executed --stored DIR

After a GPU run (scripts/gpu_session.sh stores the executed notebooks), this says which cells marked
``# NBVAL_CHECK_OUTPUT`` print something else on the GPU than the stored CPU outputs. Text outputs (streams,
``text/plain`` results, errors) are compared after the substitutions of ``tests/sanitize.cfg``, nbval's file
for ``make test``; images are not compared. Exit status 1 when any checked cell differs.
"""

from __future__ import annotations

import argparse
import configparser
import difflib
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MARK = "# NBVAL_CHECK_OUTPUT"


def sanitizers(path: Path = ROOT / "tests" / "sanitize.cfg") -> list[tuple[re.Pattern, str]]:
    """The (regex, replacement) pairs of an nbval sanitize file, in its order."""
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(path)
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def cell_text(cell: nbformat.NotebookNode, subs: list[tuple[re.Pattern, str]]) -> str:
    """A code cell's text outputs, joined and sanitized."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data") and "text/plain" in out.get("data", {}):
            if not any(k.startswith("image/") for k in out["data"]):
                parts.append(out["data"]["text/plain"])
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    text = "".join(p if p.endswith("\n") else p + "\n" for p in parts)
    for pattern, replacement in subs:
        text = pattern.sub(replacement, text)
    return text


def differences(stored: Path, executed: Path, subs: list[tuple[re.Pattern, str]]) -> list[str]:
    """Unified diffs of the checked cells whose sanitized text differs (matched by position among code cells)."""
    old = [c for c in nbformat.read(stored, as_version=4).cells if c.cell_type == "code"]
    new = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"]
    if [c.source for c in old] != [c.source for c in new]:
        return [f"{executed.name}: its code differs from {stored}: not the same notebook"]
    diffs = []
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        if MARK in a.source:
            before, after = cell_text(a, subs), cell_text(b, subs)
            if before != after:
                diff = difflib.unified_diff(before.splitlines(), after.splitlines(), "stored", "executed", lineterm="")
                diffs.append(f"{executed.name}, code cell {i}:\n" + "\n".join(diff))
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("executed", type=Path, help="folder of executed notebooks")
    parser.add_argument("--stored", type=Path, default=ROOT / "notebooks", help="folder of the stored notebooks")
    parser.add_argument("--sanitize", type=Path, default=ROOT / "tests" / "sanitize.cfg")
    args = parser.parse_args(argv)
    subs = sanitizers(args.sanitize)
    executed = sorted(args.executed.glob("*.ipynb"))
    if not executed:
        parser.error(f"no notebooks in {args.executed}")
    found = [d for path in executed for d in differences(args.stored / path.name, path, subs)]
    for d in found:
        print(d, end="\n\n")
    print(f"{len(executed)} notebook(s) compared: {len(found)} checked cell(s) differ")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
