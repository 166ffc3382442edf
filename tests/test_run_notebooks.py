"""scripts/run_notebooks.py: what it stores (widget outputs) and how it times a notebook (runner pauses)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from run_notebooks import WIDGET_NOTE, runner_stalls, tidy_widget_outputs  # noqa: E402

WIDGET = "application/vnd.jupyter.widget-view+json"


def _cell(busy: str, reply: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("pass")
    cell.metadata["execution"] = {"iopub.status.busy": busy, "shell.execute_reply": reply}
    return cell


def test_runner_stalls_counts_only_long_idle_gaps_between_cells():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("2026-12-01T10:00:00.000Z", "2026-12-01T10:00:20.000Z"),  # 20 s of work: not a pause
        _cell("2026-12-01T10:00:20.010Z", "2026-12-01T10:00:21.000Z"),
        nbformat.v4.new_markdown_cell("text"),
        _cell("2026-12-01T10:01:21.000Z", "2026-12-01T10:01:22.000Z"),  # 60 s idle before it: the runner's
        _cell("2026-12-01T10:01:24.000Z", "2026-12-01T10:01:25.000Z"),  # 2 s: ordinary
    ]
    assert runner_stalls(nb) == 60.0
    assert runner_stalls(nb, longer_than=1.0) == 62.0


def test_tidy_drops_progress_bars_and_explains_widgets():
    nb = nbformat.v4.new_notebook()
    bar = nbformat.v4.new_output("display_data", {WIDGET: {"model_id": "a"}, "text/plain": "epoch 1/2:   0%|  | 0/32"})
    slider = nbformat.v4.new_output("display_data", {WIDGET: {"model_id": "b"}, "text/plain": "interactive(...)"})
    text = nbformat.v4.new_output("stream", name="stdout", text="epoch 1/2: train loss 0.1\n")
    cell = nbformat.v4.new_code_cell("fit()")
    cell.outputs = [bar, text, slider]
    nb.cells = [cell]
    assert tidy_widget_outputs(nb) == 1
    assert [o.output_type for o in cell.outputs] == ["stream", "display_data"]
    assert cell.outputs[1].data["text/plain"] == WIDGET_NOTE
