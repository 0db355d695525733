"""The example notebooks run top to bottom on CPU (nbclient, a fresh kernel in a temporary folder) and their
outputs hold what a reader expects: inline figures, the comparison table, no error. Outputs are stripped in
git, so this is the only place they are checked."""

import base64
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_notebooks_are_stored_without_outputs():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "own_model.ipynb"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, (
                    f"{path.name} holds outputs: strip them (jupyter nbconvert --clear-output --inplace)"
                )


def _outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


@pytest.mark.slow  # ~30-50 s each: a kernel, torch, a few tiny trainings
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails

    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(o["data"].get("text/html", "") for o in outputs if "data" in o)
    # figures: matplotlib outputs, and the curves inside a Run's HTML view
    pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    pngs += re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(pngs) >= 3, f"{path.name}: {len(pngs)} inline figures"
    for png in pngs:
        assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<table" in html and "test_acc" in html  # the comparison table
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "\x1b[" not in text  # progress prints plain lines in a notebook, no escape codes
    assert "Warning" not in text, text  # no library warning leaks into a reader's notebook
    assert (tmp_path / "runs").is_dir()
