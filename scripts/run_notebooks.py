"""Execute notebooks top to bottom in place, store clean outputs, and measure time and peak memory.

    python scripts/run_notebooks.py                     # every notebook
    python scripts/run_notebooks.py notebooks/03_vgg.ipynb --json out.json

Each notebook runs in a fresh kernel; widget state is not stored (GitHub cannot render it), the kernelspec
is set to python3, and the kernel's peak resident memory is read from inside the kernel at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
# read inside the kernel at the end: its peak resident memory and, where it used CUDA, the GPU's name and the
# peak GPU memory torch allocated (torch.cuda.max_memory_allocated; the driver's own overhead is not in it)
PROBE = (
    "import resource as _r, sys as _s, json as _j\n"
    "_k = 1 if _s.platform == 'darwin' else 1024\n"
    "_t = _s.modules.get('torch')\n"
    "_g = ({'gpu': _t.cuda.get_device_name(0), 'gpu_peak_mb': _t.cuda.max_memory_allocated() / 2**20}\n"
    "      if _t is not None and _t.cuda.is_available() and _t.cuda.is_initialized() else {})\n"
    "print(_j.dumps({'peak_rss_mb': _r.getrusage(_r.RUSAGE_SELF).ru_maxrss * _k / 2**20, **_g}))"
)


# What a reader sees in place of a widget where no kernel runs (GitHub, nbviewer, the slides), instead of its repr
WIDGET_NOTE = "[interactive controls: run this notebook in JupyterLab, Colab or Binder to move them]"


PROGRESS_BAR = re.compile(r"\d+%\|")  # tqdm's text form: "epoch 1/2:  40%|####      | 13/32 [...]"


def tidy_widget_outputs(nb: nbformat.NotebookNode) -> int:
    """Drop stored progress bars (widgets frozen mid-run) and give every other stored widget a readable text
    fallback; return how many widget outputs remain."""
    count = 0
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                if PROGRESS_BAR.search("".join(data.get("text/plain", ""))):
                    continue
                data["text/plain"] = WIDGET_NOTE
                count += 1
            kept.append(out)
        if "outputs" in cell:
            cell["outputs"] = kept
    return count


def _stamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def runner_stalls(nb: nbformat.NotebookNode, longer_than: float = 5.0) -> float:
    """Seconds the kernel sat idle between two consecutive cells, counting only pauses over ``longer_than``.

    nbclient sometimes waits out its whole cell timeout after a cell that shows widgets, with the kernel idle
    (seen with ``widgets.interact``; JupyterLab running the same notebook shows no such pause). The
    kernel's own timestamps (``record_timing``) tell those pauses apart from the notebook's own work.
    """
    spans = [(_stamp(e["iopub.status.busy"]), _stamp(e["shell.execute_reply"]))
             for e in (c.get("metadata", {}).get("execution", {}) for c in nb.cells)
             if "iopub.status.busy" in e and "shell.execute_reply" in e]
    gaps = (start - end for (_, end), (start, _) in zip(spans, spans[1:], strict=False))
    return sum(g for g in gaps if g > longer_than)


def longest_cell(nb: nbformat.NotebookNode) -> float:
    """Seconds of the slowest cell, from the kernel's own timestamps (``record_timing``)."""
    spans = [_stamp(e["shell.execute_reply"]) - _stamp(e["iopub.status.busy"])
             for e in (c.get("metadata", {}).get("execution", {}) for c in nb.cells)
             if "iopub.status.busy" in e and "shell.execute_reply" in e]
    return max(spans, default=0.0)


def run(path: Path, timeout: int = 600, save: bool = True, save_to: Path | None = None) -> dict:
    """Execute ``path`` in a fresh kernel; store it in place (``save``) or as ``save_to / path.name``."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    resources = {"metadata": {"path": str(path.parent)}}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources)
    start = time.perf_counter()
    # no progress bars in stored outputs: a stored bar is a widget frozen at 0 %; the per-epoch lines remain
    client.execute(env={**os.environ, "CNNEDU_NO_BAR": "1"})
    seconds = time.perf_counter() - start
    stalled = runner_stalls(nb)
    probe = nb.cells.pop()
    slowest = longest_cell(nb)
    probed = json.loads(probe.outputs[0]["text"])
    peak = probed["peak_rss_mb"]
    nb.metadata.pop("widgets", None)
    tidy_widget_outputs(nb)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    if save_to is not None:
        save_to.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save_to / path.name)
    elif save:
        nbformat.write(nb, path)
    result = {"notebook": path.name, "seconds": round(seconds - stalled, 1), "peak_rss_mb": round(peak),
              "longest_cell_s": round(slowest, 1)}
    if "gpu" in probed:
        result.update(gpu=probed["gpu"], gpu_peak_mb=round(probed["gpu_peak_mb"]))
    if stalled:  # reported, and left out of the notebook's time: a reader in JupyterLab does not wait for it
        result["runner_stall_s"] = round(stalled, 1)
    return result


def measure(path: Path, timeout: int = 600, save: bool = True, save_to: Path | None = None) -> dict:
    """``run`` that never raises: a failing notebook gives {"notebook", "error", "traceback"} instead."""
    try:
        return run(path, timeout=timeout, save=save, save_to=save_to)
    except Exception as err:  # keep going: one broken notebook should not hide the others' numbers
        # nbclient's CellExecutionError carries the cell's traceback in its text; a bare error has none
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)) or traceback.format_exc()  # without terminal colours
        return {"notebook": path.name, "error": f"{type(err).__name__}: {text[-300:]}", "traceback": text[-3000:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument("--no-save", action="store_true", help="measure only, leave the files as they are")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (raise it on a loaded machine)")
    parser.add_argument("--tidy", action="store_true", help="only tidy the stored widget outputs, run nothing")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.tidy:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            print(f"{path.name:<32} {tidy_widget_outputs(nb)} widget output(s)")
            nbformat.write(nb, path)
        return 0
    results, failed = [], 0
    for path in paths:
        result = measure(path, timeout=args.timeout, save=not args.no_save)
        if "error" in result:
            failed += 1
            print(f"{path.name:<32} FAILED {result['error']}", flush=True)
        else:
            stall = f" (runner idle {result['runner_stall_s']} s, not counted)" if "runner_stall_s" in result else ""
            print(f"{result['notebook']:<32} {result['seconds']:>7.1f} s {result['peak_rss_mb']:>7} MB, longest cell "
                  f"{result['longest_cell_s']} s{stall}", flush=True)
        results.append(result)
        if args.json:  # written after every notebook, so a run cut short still reports what it measured
            args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
