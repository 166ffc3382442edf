"""Tests for the experiment seeds (CNNEDU_SEEDS) and the claim API of cnnedu.train, and the experiments script."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cnnedu import train
from cnnedu.train import Claim, Comparison, claim, seeds

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import run_experiments  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("CNNEDU_SEEDS", raising=False)
    monkeypatch.delenv("CNNEDU_CLAIMS", raising=False)


def test_seeds_default_and_override(monkeypatch):
    assert seeds((0, 1, 2)) == (0, 1, 2)
    monkeypatch.setenv("CNNEDU_SEEDS", "7, 8,9")
    assert seeds((0, 1, 2)) == (7, 8, 9)
    assert seeds((0, 1, 2, 3, 4)) == (7, 8, 9)  # every experiment's list is replaced


@pytest.mark.parametrize("text", ["7,x", "1.5", "3,3"])
def test_seeds_bad_values_name_the_variable(monkeypatch, text):
    monkeypatch.setenv("CNNEDU_SEEDS", text)
    with pytest.raises(ValueError, match="CNNEDU_SEEDS|seeds must be distinct"):
        seeds()


def test_compare_uses_the_override(monkeypatch):
    from torch import nn
    from torch.utils.data import TensorDataset

    from cnnedu.data import tensor_loader

    ds = TensorDataset(__import__("torch").randn(32, 4), __import__("torch").arange(32) % 2)
    loaders = tensor_loader(ds, 16, seed=0), tensor_loader(ds, 16, shuffle=False)
    monkeypatch.setenv("CNNEDU_SEEDS", "5,6")
    comp = train.compare({"lin": lambda: nn.Linear(4, 2)}, loaders, seeds=(0, 1, 2), epochs=1, device="cpu")
    assert comp.seeds == (5, 6) and len(comp.results["lin"]) == 2


def _claim(a, b, **kw) -> Claim:
    kw = {"metric": "training error", "unit": "%", "seeds": range(len(a)), **kw}
    return claim("a beats b", {"a": a, "b": b}, "a", "b", paper="test", **kw)


def test_better_claim_verdicts():
    # lower error is better (inferred from the metric's name)
    shown = _claim([1.0, 2.0, 3.0], [20.0, 21.0, 22.0])
    assert shown.verdict == "shown" and shown.effect == pytest.approx(19.0)
    assert shown.threshold == pytest.approx(2 * (1 + 1) ** 0.5)
    assert _claim([20.0, 21.0, 22.0], [1.0, 2.0, 3.0]).verdict == "opposite"
    assert _claim([1.0, 5.0, 9.0], [4.0, 6.0, 8.0]).verdict == "within noise"
    # equal means with no spread are not a difference
    assert _claim([3.0, 3.0], [3.0, 3.0]).verdict == "within noise"
    # one seed gives no estimate of the noise
    assert _claim([1.0], [50.0]).verdict == "within noise"


def test_direction_follows_higher_is_better():
    c = _claim([90.0, 91.0, 92.0], [50.0, 51.0, 52.0], metric="test accuracy")
    assert c.higher_is_better and c.verdict == "shown"
    c = _claim([90.0, 91.0, 92.0], [50.0, 51.0, 52.0], metric="test accuracy", higher_is_better=False)
    assert c.verdict == "opposite"
    assert _claim([100, 110, 120], [500, 520, 540], metric="steps to 25 % error", unit="steps").verdict == "shown"


def test_at_most_worse_by_rule():
    kw = {"metric": "test accuracy", "at_most_worse_by": 2.0}
    # 0.5 points short, noise threshold 2*sqrt(0.25**2*2) ~ 0.71: 1.2 <= 2
    assert _claim([80.25, 80.5, 80.75], [80.75, 81.0, 81.25], **kw).verdict == "shown"
    # 10 points short: far beyond the margin
    assert _claim([70.25, 70.5, 70.75], [80.75, 81.0, 81.25], **kw).verdict == "opposite"
    # 1.5 points short with a threshold of about 1.4: cannot tell
    assert _claim([79.0, 79.5, 80.0], [80.5, 81.0, 81.5], **kw).verdict == "within noise"
    with pytest.raises(ValueError, match="at_most_worse_by"):
        _claim([1.0, 2.0], [1.0, 2.0], at_most_worse_by=-1)


def test_claim_from_comparison_prints_and_records(tmp_path, monkeypatch, capsys):
    record = tmp_path / "claims.jsonl"
    monkeypatch.setenv("CNNEDU_CLAIMS", str(record))
    comp = Comparison(metric="test_acc", seeds=(3, 4, 5), results={"x": [0.9, 0.91, 0.92], "y": [0.5, 0.6, 0.55]})
    before = len(train.CLAIMS)
    c = claim("x is more accurate than y", comp, "x", "y", paper="Paper 2020, Fig. 1")
    assert c.verdict == "shown" and c.seeds == (3, 4, 5) and c.metric == "test_acc"
    assert train.CLAIMS[before:] == [c]
    out = capsys.readouterr().out
    assert "Paper 2020, Fig. 1" in out and "Verdict: SHOWN" in out
    (line,) = record.read_text().splitlines()
    rec = json.loads(line)
    for key in ("claim", "paper", "verdict", "seeds", "seconds", "mean_a", "std_b", "effect", "threshold"):
        assert key in rec
    assert rec["verdict"] == "shown" and rec["seeds"] == [3, 4, 5]


def test_claim_rejects_bad_arguments():
    with pytest.raises(ValueError, match="a must be one of"):
        claim("t", {"x": [1, 2], "y": [1, 2]}, "z", "y", paper="p", metric="m", seeds=(0, 1))
    with pytest.raises(ValueError, match="metric"):
        claim("t", {"x": [1, 2], "y": [1, 2]}, "x", "y", paper="p")
    with pytest.raises(ValueError, match="one value per seed"):
        claim("t", {"x": [1, 2], "y": [1, 2, 3]}, "x", "y", paper="p", metric="m", seeds=(0, 1))


def test_report_pairs_the_two_seed_sets():
    rec = {"notebook": "05_resnet", "claim": "c", "paper": "p", "unit": "%", "seconds": 12.0}
    default = [{**rec, "verdict": "shown", "seeds": [0, 1, 2], "effect": 50.0, "threshold": 10.0}]
    other = [{**rec, "verdict": "within noise", "seeds": [7, 8, 9], "effect": 5.0, "threshold": 10.0}]
    text = run_experiments.report(default, other)
    row = next(line for line in text.splitlines() if line.startswith("| 05_resnet"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3:9] == ["0, 1, 2", "shown", "50.0 pt / 10.0 pt", "7, 8, 9", "within noise", "5.0 pt / 10.0 pt"]
    assert "Shown: 1 of 1 claims with each experiment's seeds, 0 of 1 with the other seeds." in text
    assert cells[-1] == "not run yet" and "GPU budgets: not run yet" in text
    gpu = [{**rec, "verdict": "shown", "seeds": [0, 1, 2, 3, 4], "effect": 30.0, "threshold": 4.0}]
    row = next(line for line in run_experiments.report(default, other, gpu).splitlines()
               if line.startswith("| 05_resnet"))
    assert row.strip("|").split("|")[-1].strip() == "shown (30.0 pt / 4.0 pt)"


def test_notebooks_with_claims_are_found():
    found = run_experiments.notebooks_with_claims()
    assert all("train.claim(" in p.read_text() for p in found)


@pytest.mark.slow
def test_run_experiments_end_to_end(tmp_path):
    """A notebook that makes one claim, run with other seeds: the claim comes back with those seeds."""
    import nbformat

    code = ("from cnnedu import train\n"
            "s = train.seeds((0, 1, 2))\n"
            "c = train.claim('more is more', {'big': [10 + k for k in s], 'small': [k for k in s]}, 'big', 'small',\n"
            "                paper='none', metric='score', seeds=s)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    path = tmp_path / "99_probe.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "claims.json"
    assert run_experiments.main(["--seeds", "7,8,9,10", "--json", str(out), str(path)]) == 0
    (rec,) = json.loads(out.read_text())
    assert rec["notebook"] == "99_probe" and rec["seeds"] == [7, 8, 9, 10] and rec["verdict"] == "shown"


def test_run_experiments_in_parallel_keeps_the_order_and_saves_runs_elsewhere(tmp_path):
    """--jobs 2: two notebooks at once, claims and runs in the order given, executed copies in --save-to only."""
    import nbformat

    paths = []
    for name, gap in (("98_first", 10), ("99_second", -10)):
        code = ("from cnnedu import train\n"
                f"c = train.claim('{name}', {{'a': [{gap} + k for k in (0, 1, 2)], 'b': [0, 1, 2]}}, 'a', 'b',\n"
                "                paper='none', metric='score', seeds=(0, 1, 2))\nprint(c.verdict)")
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), path)
        paths.append(path)
    before = [p.read_text() for p in paths]
    out, runs, executed = tmp_path / "claims.json", tmp_path / "runs.json", tmp_path / "executed"
    assert run_experiments.main(["--jobs", "2", "--json", str(out), "--runs-json", str(runs), "--save-to",
                                 str(executed), *map(str, paths)]) == 0
    assert [(c["notebook"], c["verdict"]) for c in json.loads(out.read_text())] == [
        ("98_first", "shown"), ("99_second", "opposite")]
    measured = json.loads(runs.read_text())
    assert [r["notebook"] for r in measured] == ["98_first.ipynb", "99_second.ipynb"]
    assert all(r["seconds"] > 0 and r["claims"] == 1 and "gpu_peak_mb" not in r for r in measured)
    assert [p.read_text() for p in paths] == before  # the notebooks themselves are not touched
    stored = nbformat.read(executed / "99_second.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in stored.cells[0].outputs).splitlines()
    assert printed[-1] == "opposite"  # the executed copy holds the run's outputs
    with pytest.raises(SystemExit):
        run_experiments.main(["--jobs", "0", str(paths[0])])
