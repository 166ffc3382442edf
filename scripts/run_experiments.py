"""Run the course's experiments with chosen seeds and collect every claim they record.

    python scripts/run_experiments.py --seeds 7,8,9 --json out.json              # every notebook with a claim
    python scripts/run_experiments.py --seeds 7,8,9 --json out.json notebooks/05_resnet.ipynb
    python scripts/run_experiments.py --report benchmarks/EXPERIMENTS.md default.json other.json

Each notebook runs top to bottom in a fresh kernel with the CPU budgets (``CNNEDU_BUDGET=cpu``; ``--budget gpu``
for a GPU) and its outputs are not stored. ``--seeds`` sets ``CNNEDU_SEEDS``, which replaces every experiment's
seed list; each ``cnnedu.train.claim`` call appends a JSON line to the file named by ``CNNEDU_CLAIMS``. The
result is a JSON list with one object per claim: notebook, claim, paper, verdict, seeds, seconds, and the means,
spreads, effect and noise threshold behind the verdict. ``--report`` turns two such lists (default seeds, other
seeds) into the Markdown table of ``benchmarks/EXPERIMENTS.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_notebooks import measure  # noqa: E402

from cnnedu import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def notebooks_with_claims() -> list[Path]:
    """The notebooks whose code calls ``train.claim``."""
    return [p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) if "train.claim(" in p.read_text()]


def run_one(path: Path, seeds: str | None, timeout: int = 600, budget: str = "cpu",
            save_to: Path | None = None) -> tuple[list[dict], dict]:
    """Run one notebook with ``CNNEDU_SEEDS=seeds`` (None: its own seeds); return (its claims, its measurement)."""
    saved = {k: os.environ.get(k) for k in ("CNNEDU_SEEDS", "CNNEDU_CLAIMS", "CNNEDU_BUDGET", "CNNEDU_FIGURES")}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            record = Path(tmp) / "claims.jsonl"
            # figures of runs with other seeds go to the scratch folder, not to figures/
            os.environ.update(CNNEDU_CLAIMS=str(record), CNNEDU_BUDGET=budget, CNNEDU_FIGURES=tmp)
            if seeds:
                os.environ["CNNEDU_SEEDS"] = seeds
            else:
                os.environ.pop("CNNEDU_SEEDS", None)
            result = measure(path, timeout=timeout, save=False, save_to=save_to)
            found = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    for c in found:
        c["notebook"] = path.stem
    return found, {**result, "claims": len(found)}


def run(paths: list[Path], seeds: str | None, timeout: int = 600, budget: str = "cpu", jobs: int = 1,
        save_to: Path | None = None,
        done: Callable[[list[dict], list[dict]], None] | None = None) -> tuple[list[dict], list[dict]]:
    """Run ``paths`` (``jobs`` at a time, each in its own kernel); return (claims, runs) in the order of ``paths``.

    ``done(claims, runs)`` is called after every notebook with what has finished so far (in the order of
    ``paths``), so that a run cut short still leaves its results.
    """
    if seeds:  # fail here, before any notebook runs, on a malformed list
        saved = os.environ.get("CNNEDU_SEEDS")
        os.environ["CNNEDU_SEEDS"] = seeds
        try:
            train.seeds()
        finally:
            if saved is None:
                os.environ.pop("CNNEDU_SEEDS")
            else:
                os.environ["CNNEDU_SEEDS"] = saved
    args = [(path, seeds, timeout, budget, save_to) for path in paths]
    outcomes: list[tuple[list[dict], dict] | None] = [None] * len(args)

    def finished(i: int, outcome: tuple[list[dict], dict]) -> None:
        outcomes[i] = outcome
        _print(*outcome)
        if done is not None:
            ready = [o for o in outcomes if o is not None]
            done([c for found, _ in ready for c in found], [result for _, result in ready])

    if jobs > 1:  # each worker process runs its notebooks one after the other, each in a fresh kernel
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(run_one, *a): i for i, a in enumerate(args)}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    else:
        for i, a in enumerate(args):
            finished(i, run_one(*a))
    claims = [c for found, _ in outcomes for c in found]
    return claims, [result for _, result in outcomes]


def _print(found: list[dict], result: dict) -> None:
    status = f"FAILED {result['error']}" if "error" in result else f"{result['seconds']:.0f} s"
    gpu = f", {result['gpu_peak_mb']:,} MB on the GPU" if "gpu_peak_mb" in result else ""
    verdicts = ", ".join(c["verdict"] for c in found) or "no claim"
    print(f"{result['notebook']:<28} {status}{gpu}: {verdicts}", flush=True)


def _fmt(c: dict, value: float, diff: bool = False) -> str:
    if c["unit"] == "%":
        return f"{value:.1f} {'pt' if diff else '%'}"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {c['unit']}".rstrip()


def report(default: list[dict], other: list[dict], gpu: list[dict] | None = None) -> str:
    """The Markdown table of ``benchmarks/EXPERIMENTS.md``: one row per claim, its verdict under both seed sets,
    and, from ``make test-gpu``'s ``claims_gpu.json`` when given, its verdict under the GPU budgets."""
    others = {(c["notebook"], c["claim"]): c for c in other}
    gpus = {(c["notebook"], c["claim"]): c for c in gpu or []}
    lines = [
        "# Experiments: the papers' claims, as the notebooks test them",
        "",
        "Written by `make experiments` (`scripts/run_experiments.py`): every notebook that records a claim runs",
        "top to bottom on the CPU budgets, once with its own seeds and once with `CNNEDU_SEEDS` set to other seeds.",
        "The rule (`cnnedu.train.Claim`): a claim is shown when the difference of the means exceeds the noise",
        "threshold 2·sqrt(std_a² + std_b²) in the claimed direction (for \"at most worse by\" claims: when the",
        "shortfall plus the threshold stays within the margin). The two other verdicts, for a difference beyond the",
        "threshold the other way and for one inside it, are named in `cnnedu.train.VERDICTS`.",
        "Effect: how much the first side is better than the second (negative: worse). Time: the training runs",
        "behind the claim, all seeds.",
        "",
        "| notebook | claim | paper | seeds | verdict | effect / threshold | other seeds | verdict "
        "| effect / threshold | time | GPU verdict |",
        "|---|---|---|---|---|---|---|---|---|---:|---|",
    ]
    for c in default:
        o = others.get((c["notebook"], c["claim"]))
        cells = [c["notebook"], c["claim"], c["paper"], ", ".join(map(str, c["seeds"])), c["verdict"],
                 f"{_fmt(c, c['effect'], True)} / {_fmt(c, c['threshold'], True)}"]
        if o:
            cells += [", ".join(map(str, o["seeds"])), o["verdict"],
                      f"{_fmt(o, o['effect'], True)} / {_fmt(o, o['threshold'], True)}"]
        else:
            cells += ["", "not run", ""]
        cells.append(f"{c['seconds']:.0f} s")
        g = gpus.get((c["notebook"], c["claim"]))
        cells.append(f"{g['verdict']} ({_fmt(g, g['effect'], True)} / {_fmt(g, g['threshold'], True)})" if g
                     else "not run yet")
        lines.append("| " + " | ".join(cells) + " |")
    shown = sum(c["verdict"] == "shown" for c in default)
    shown_o = sum(o["verdict"] == "shown" for o in other)
    lines += ["", f"Shown: {shown} of {len(default)} claims with each experiment's seeds, {shown_o} of {len(other)} "
              "with the other seeds."]
    if gpu:
        lines += [f"GPU budgets (`make test-gpu`): {sum(g['verdict'] == 'shown' for g in gpu)} of {len(gpu)} shown."]
    else:
        lines += ["GPU budgets: not run yet (`make test-gpu` on a machine with CUDA writes "
                  "`benchmarks/claims_gpu.json`; pass it as a third file to `--report`)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every one with a claim); "
                        "with --report: the two JSON lists")
    parser.add_argument("--seeds", help="comma-separated seeds for every experiment, e.g. 7,8,9 "
                        "(default: each experiment's own)")
    parser.add_argument("--json", type=Path, help="write the recorded claims here")
    parser.add_argument("--report", type=Path, help="write the Markdown report of two JSON lists here")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--budget", choices=("cpu", "gpu"), default="cpu",
                        help="the experiments' sizes (train.budget): cpu (default) or gpu, for make test-gpu")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once, each in its own kernel "
                        "(on a GPU machine: they share the GPU)")
    parser.add_argument("--runs-json", type=Path, help="write each notebook's measurement here (seconds, peak "
                        "memory, the GPU's name and peak GPU memory where CUDA ran): benchmarks/run.py --gpu-json")
    parser.add_argument("--save-to", type=Path, help="store the executed notebooks in this folder (for "
                        "scripts/compare_outputs.py); the notebooks themselves are never changed")
    args = parser.parse_args(argv)
    if args.report:
        if len(args.paths) not in (2, 3):
            parser.error("--report needs two JSON files: the default seeds' claims, the other seeds' claims "
                         "(and a third, optional: the GPU budgets' claims)")
        default, other, *gpu = (json.loads(p.read_text()) for p in args.paths)
        args.report.write_text(report(default, other, gpu[0] if gpu else None))
        print(f"wrote {args.report}")
        return 0
    if args.jobs < 1:
        parser.error(f"--jobs must be 1 or more, got {args.jobs}")

    def write(claims: list[dict], runs: list[dict]) -> None:
        if args.json:
            args.json.write_text(json.dumps(claims, indent=1) + "\n")
        if args.runs_json:
            args.runs_json.write_text(json.dumps(runs, indent=1) + "\n")

    claims, runs = run(args.paths or notebooks_with_claims(), args.seeds, args.timeout, args.budget, args.jobs,
                       args.save_to, done=write)
    write(claims, runs)
    failed = [r["notebook"] for r in runs if "error" in r]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
