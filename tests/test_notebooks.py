"""Every notebook under notebooks/ runs from top to bottom (executed, not only stored)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Plots a notebook must show (evaluators read them rather than tables of numbers).
PLOTS = {"effectiveness": 5}
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_error(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    # Any state a notebook makes (MLflow store, generated worlds) goes to a temporary place.
    monkeypatch.setenv("POLKU_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute(env=_environment())
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}")
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= PLOTS.get(path.stem, 0), "the notebook lost its plots"


def _environment() -> dict[str, str]:
    """The test's environment, with this interpreter's bin first so the kernel's `python` is
    the one that has the package installed."""
    import os

    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env
