"""The quickstart notebook runs top to bottom offline (slow: it trains a small model)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NB = Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb"


def test_notebook_is_saved_without_outputs():
    nb = nbformat.read(NB, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
def test_notebook_runs():
    nb = nbformat.read(NB, as_version=4)
    NotebookClient(nb, timeout=900, resources={"metadata": {"path": str(NB.parent)}}).execute()
