"""scripts/compare_outputs.py: checked cells compared as nbval compares them (sanitized text, images ignored)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import compare_outputs  # noqa: E402


def _nb(path: Path, outputs: list[str], checked: tuple[bool, ...]) -> Path:
    cells = []
    for text, check in zip(outputs, checked, strict=True):
        cell = nbformat.v4.new_code_cell(("# NBVAL_CHECK_OUTPUT\n" if check else "") + "print('x')")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_only_checked_cells_count_and_sanitized_text_is_equal(tmp_path, capsys):
    _nb(tmp_path / "stored" / "01_a.ipynb", ["took 1.23 s\n", "accuracy 50 %\n", "free 1\n"], (True, True, False))
    _nb(tmp_path / "run" / "01_a.ipynb", ["took 4.56 s\n", "accuracy 50 %\n", "free 2\n"], (True, True, False))
    assert compare_outputs.main([str(tmp_path / "run"), "--stored", str(tmp_path / "stored")]) == 0
    assert "0 checked cell(s) differ" in capsys.readouterr().out


def test_a_changed_checked_cell_is_reported_with_its_diff(tmp_path, capsys):
    _nb(tmp_path / "stored" / "01_a.ipynb", ["accuracy 50 %\n"], (True,))
    _nb(tmp_path / "run" / "01_a.ipynb", ["accuracy 51 %\n"], (True,))
    assert compare_outputs.main([str(tmp_path / "run"), "--stored", str(tmp_path / "stored")]) == 1
    out = capsys.readouterr().out
    assert "01_a.ipynb, code cell 0" in out and "-accuracy 50 %" in out and "+accuracy 51 %" in out


def test_another_notebook_under_the_same_name_is_refused(tmp_path):
    _nb(tmp_path / "stored" / "01_a.ipynb", ["a\n"], (True,))
    path = _nb(tmp_path / "run" / "01_a.ipynb", ["a\n"], (True,))
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\nprint('more')"
    nbformat.write(nb, path)
    (diff,) = compare_outputs.differences(tmp_path / "stored" / "01_a.ipynb", path, [])
    assert "not the same notebook" in diff


def test_the_repository_sanitize_file_is_read():
    subs = compare_outputs.sanitizers()
    assert subs and all(hasattr(p, "sub") for p, _ in subs)
    with pytest.raises(SystemExit):
        compare_outputs.main([str(Path(__file__).parent)])  # a folder without notebooks
