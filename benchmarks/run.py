"""Write benchmarks/REPORT.md: measured speed and memory of cnnedu's counting, data, training, widgets, notebooks.

    python benchmarks/run.py                 # everything (the notebooks take ~15-25 min on 2 cores)
    python benchmarks/run.py --skip-notebooks
    python benchmarks/run.py --only 01 05        # re-measure two notebooks, keep the others' last figures
    python benchmarks/run.py --gpu-json gpu.json   # add a GPU column from a run on a GPU machine

Each measurement of the counting benchmark runs in a fresh Python process, so that its peak memory (above
the process's baseline after imports) is its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "REPORT.md"

COUNT_CNNEDU = """
import resource, time, torch
from cnnedu.analysis import count_macs, count_params
from cnnedu.models import efficientnet_b7
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
with torch.device("meta"):
    model = efficientnet_b7()
params, macs = count_params(model), count_macs(model, (3, 600, 600))
dt = time.perf_counter() - t
print({"seconds": dt, "extra_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024,
       "params": params, "macs": macs})
"""

COUNT_TORCHINFO = """
import resource, time, torch, torchinfo
from cnnedu.models import efficientnet_b7
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
model = efficientnet_b7()
info = torchinfo.summary(model, input_size=(1, 3, 600, 600), verbose=0, device="cpu")
dt = time.perf_counter() - t
print({"seconds": dt, "extra_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024,
       "params": info.total_params, "macs": info.total_mult_adds})
"""


def _subprocess(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])  # our own dict literal


def counting() -> list[str]:
    ours, theirs = _subprocess(COUNT_CNNEDU), _subprocess(COUNT_TORCHINFO)
    return [
        "## Counting EfficientNet-B7 at 600 px",
        "",
        "Build the model and count parameters and MACs (one image). cnnedu builds it on the meta device;",
        "torchinfo runs the real model (its own timing includes building it with real weights).",
        "",
        "| tool | seconds | extra memory (MB) | params | MACs |",
        "|---|---:|---:|---:|---:|",
        f"| cnnedu (meta device) | {ours['seconds']:.2f} | {ours['extra_mb']:.0f} | {ours['params']:,} | "
        f"{ours['macs']:,} |",
        f"| torchinfo.summary (real model) | {theirs['seconds']:.2f} | {theirs['extra_mb']:.0f} | "
        f"{theirs['params']:,} | {theirs['macs']:,} |",
        "",
        f"Speed-up: {theirs['seconds'] / ours['seconds']:.1f}x. Targets: 1 s or less, at least 5x faster than "
        "torchinfo, under 100 MB extra.",
        "",
    ]


def engine() -> list[str]:
    import time

    import torch

    import cnnedu
    from cnnedu import data, models, train, widgets

    lines = ["## Data, training, widgets", ""]
    t = time.perf_counter()
    data.shapes_dataset(n=10_000, size=32, seed=0)
    gen = time.perf_counter() - t
    shapes = data.loaders("shapes", n_train=8000, n_test=2000, batch_size=64)
    torch.manual_seed(0)
    cnn = train.fit(models.small_cnn(), shapes, epochs=4, progress=False, **train.QUICK)
    torch.manual_seed(0)
    linear = train.fit(models.linear_classifier(), shapes, epochs=4, progress=False, **train.QUICK)
    lines += [
        "| what | measured |",
        "|---|---:|",
        f"| embedded data set, 10k images at 32 px | {gen:.2f} s |",
        f"| `small_cnn`, `train.QUICK`, 8k images, batch 64: seconds per epoch (train + test) | "
        f"{' / '.join(f'{t:.1f}' for t in cnn.epoch_time)} |",
        f"| `small_cnn` test accuracy after each epoch | {' / '.join(f'{a:.1%}' for a in cnn.test_acc)} |",
        f"| `small_cnn`, whole run of 4 epochs | {cnn.seconds:.1f} s |",
        f"| `linear_classifier`, same recipe: test accuracy after 4 epochs | {linear.test_acc[-1]:.1%} |",
    ]
    cnnedu.setup(verbose=False)  # as in every notebook (it also freezes the libraries out of full GC scans)
    rendered = widgets.benchmark_updates(n=40, render=True)
    for name, stats in widgets.benchmark_updates(n=40).items():
        shown = rendered[name]
        how = "fast path" if shown["full_draws"] == 0 else "full draw"
        lines.append(f"| widget `{name}` update p50 / p95: numbers and figure; on screen (PNG, {how}) | "
                     f"{stats['p50_ms']:.0f} / {stats['p95_ms']:.0f} ms; "
                     f"{shown['p50_ms']:.0f} / {shown['p95_ms']:.0f} ms |")
    fast = [f"`{k}`" for k, v in rendered.items() if v["full_draws"] == 0]
    full = [f"`{k}`" for k, v in rendered.items() if v["full_draws"] > 0]
    lines += ["", "Target for widget updates: p95 150 ms or less after the first call (40 updates each, cycling "
              f"through typical values). On screen, {', '.join(fast)} move their main slider through "
              f"`widgets.FigureRenderer`'s fast path (only the animated artists are redrawn); "
              f"{', '.join(full) or 'none'} {'redraws' if len(full) == 1 else 'redraw'} the whole figure, "
              "because every control changes all of it. Every update here is drawn (the renderer's cache is off); in a "
              "notebook a value shown before comes from a cache of 64 images (the update function's time only).",
              ""]
    return lines


def _gpu_name(gpu: dict[str, dict]) -> str:
    names = sorted({r["gpu"] for r in gpu.values() if r.get("gpu")})
    return " / ".join(names) or "a GPU whose name was not recorded"


def notebooks(gpu: dict[str, dict] | None, save: bool = False, gpu_source: str = "", timeout: int = 120,
              only: list[str] | None = None) -> list[str]:
    """Measure every notebook (or, with ``only``, the notebooks whose names start with one of those prefixes,
    keeping the others' last measurements from notebook_times.json) and return the report's section."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from run_notebooks import measure

    lines = [
        "## Notebooks, top to bottom",
        "",
        "Fresh kernel each" + (", outputs stored" if save else ", nothing saved")
        + ". Targets: 150 s or less, no cell over 60 s, and 1.5 GB or less on a 2-core CPU. The time leaves out"
        " pauses of the notebook runner itself (nbclient sometimes idles for its whole cell timeout after a widget"
        " cell, with the kernel idle; JupyterLab shows no such pause): each is reported in the last column."
        + (f" GPU columns: `{gpu_source}`, on {_gpu_name(gpu)} (peak GPU memory: torch's largest allocation in the "
           "notebook's kernel; '-': not measured there, or failed). Targets there: 3 minutes or less per notebook, "
           "16 GB or less of GPU memory (Colab's T4)." if gpu else ""),
        "",
        "| notebook | CPU seconds | longest cell (s) | CPU peak memory (MB) | runner pauses left out (s) |"
        + (" GPU seconds | GPU peak memory (MB) | GPU run's peak host memory (MB) |" if gpu else ""),
        "|---|---:|---:|---:|---:|" + ("---:|---:|---:|" if gpu else ""),
    ]
    times = ROOT / "benchmarks" / "notebook_times.json"
    last = {r["notebook"]: r for r in json.loads(times.read_text())} if only and times.exists() else {}
    results = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if only and not any(path.name.startswith(o) for o in only) and path.name in last:
            r = last[path.name]
        else:  # a short cell timeout bounds the runner's pauses
            r = measure(path, timeout=timeout, save=save)
        results.append(r)
        row = (f"| {r['notebook']} | failed: {r['error'][:80]} | - | - | - |" if "error" in r
               else f"| {r['notebook']} | {r['seconds']:.1f} | {r.get('longest_cell_s', '-')} | {r['peak_rss_mb']} | "
                    f"{r.get('runner_stall_s', 0)} |")
        if gpu:
            g = gpu.get(r["notebook"], {})
            row += f" {g.get('seconds', '-')} | {g.get('gpu_peak_mb', '-')} | {g.get('peak_rss_mb', '-')} |"
        lines.append(row)
        print(row, flush=True)
    # the README's course map reads the times from here (python scripts/badges.py)
    times.write_text(json.dumps(results, indent=1) + "\n")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--gpu-json", type=Path, help="scripts/run_notebooks.py --json or run_experiments.py "
                        "--runs-json output from a GPU machine (with --only XX: keep the CPU columns as measured)")
    parser.add_argument("--save-notebooks", action="store_true", help="store the fresh outputs in the notebooks")
    parser.add_argument("--only", nargs="+", metavar="PREFIX",
                        help="measure only these notebooks (e.g. 01 05), keep the others' last measurements")
    args = parser.parse_args(argv)
    import os

    import torch

    gpu = {r["notebook"]: r for r in json.loads(args.gpu_json.read_text())} if args.gpu_json else None
    lines = [
        "# Benchmark report",
        "",
        f"Written by `python benchmarks/run.py` on {platform.machine()} with {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}, torch {torch.__version__}.",
        "",
    ]
    lines += counting()
    lines += engine()
    if not args.skip_notebooks:
        lines += notebooks(gpu, save=args.save_notebooks, gpu_source=str(args.gpu_json), only=args.only)
    elif REPORT.exists() and "## Notebooks" in REPORT.read_text():  # keep the last notebook measurements
        lines += ["## Notebooks" + REPORT.read_text().split("## Notebooks", 1)[1].rstrip("\n")]
    REPORT.write_text("\n".join(lines) + "\n")
    print(f"wrote {REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
