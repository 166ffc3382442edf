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
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_notebooks import measure  # noqa: E402

from cnnedu import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def notebooks_with_claims() -> list[Path]:
    """The notebooks whose code calls ``train.claim``."""
    return [p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) if "train.claim(" in p.read_text()]


def run(paths: list[Path], seeds: str | None, timeout: int = 600, budget: str = "cpu") -> tuple[list[dict], list[dict]]:
    """Run ``paths`` with ``CNNEDU_SEEDS=seeds`` (None: each experiment's own seeds); return (claims, runs)."""
    claims, runs = [], []
    saved = {k: os.environ.get(k) for k in ("CNNEDU_SEEDS", "CNNEDU_CLAIMS", "CNNEDU_BUDGET", "CNNEDU_FIGURES")}
    try:
        if seeds:  # fail here, before any notebook runs, on a malformed list
            os.environ["CNNEDU_SEEDS"] = seeds
            train.seeds()
        for path in paths:
            with tempfile.TemporaryDirectory() as tmp:
                record = Path(tmp) / "claims.jsonl"
                # figures of runs with other seeds go to the scratch folder, not to figures/
                os.environ.update(CNNEDU_CLAIMS=str(record), CNNEDU_BUDGET=budget, CNNEDU_FIGURES=tmp)
                if seeds:
                    os.environ["CNNEDU_SEEDS"] = seeds
                else:
                    os.environ.pop("CNNEDU_SEEDS", None)
                result = measure(path, timeout=timeout, save=False)
                found = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
            for c in found:
                c["notebook"] = path.stem
            claims += found
            runs.append({**result, "claims": len(found)})
            status = f"FAILED {result['error']}" if "error" in result else f"{result['seconds']:.0f} s"
            verdicts = ", ".join(c["verdict"] for c in found) or "no claim"
            print(f"{path.name:<28} {status}: {verdicts}", flush=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return claims, runs


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
    args = parser.parse_args(argv)
    if args.report:
        if len(args.paths) not in (2, 3):
            parser.error("--report needs two JSON files: the default seeds' claims, the other seeds' claims "
                         "(and a third, optional: the GPU budgets' claims)")
        default, other, *gpu = (json.loads(p.read_text()) for p in args.paths)
        args.report.write_text(report(default, other, gpu[0] if gpu else None))
        print(f"wrote {args.report}")
        return 0
    claims, runs = run(args.paths or notebooks_with_claims(), args.seeds, args.timeout, args.budget)
    if args.json:
        args.json.write_text(json.dumps(claims, indent=1) + "\n")
    failed = [r["notebook"] for r in runs if "error" in r]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
