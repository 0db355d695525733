"""The example notebooks run top to bottom on CPU (nbclient, a fresh kernel in a temporary folder), twice in
the same kernel as a reader pressing "Run All" again would, and their outputs hold what a reader expects:
inline figures, the comparison table, training progress updated in place, no error. Outputs are stripped in
git, so this is the only place they are checked."""

import base64
import os
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


class _Client(nbclient.NotebookClient):
    """nbclient's client, counting the outputs the kernel replaced in place (update_display_data)."""

    updates = 0

    def process_message(self, msg, cell, cell_index):
        self.updates += msg["msg_type"] == "update_display_data"
        return super().process_message(msg, cell, cell_index)


def _run_all(client: _Client) -> None:
    """Every cell in order, as "Run All" (CellExecutionError, with the cell and its traceback, if one fails)."""
    for index, cell in enumerate(client.nb.cells):
        client.execute_cell(cell, index)


# how long a run trains changes how long a notebook takes (15 % of its CPU time as written), not what it shows:
# the same cells, figures, table and progress updated in place. The first "Run All" trains 2 epochs a run (each
# progress has lines to replace); the second 1 epoch, which shows that the runs in the same out= folders start
# over (overwrite=True). The second also leaves out each run's figures/ files (train__figures=False; a sweep's
# trials take it from their base, the first run's config): the notebook shows only the figures it draws
# itself (Run.plot, a run's HTML view), and the first "Run All" draws those files, where a warning of theirs
# would show
EPOCHS = re.compile(r"train__epochs=\d+")
FIRST_RUN_EPOCHS, RERUN_EPOCHS = 2, 1


def _set_epochs(nb, epochs: int, figures: bool = True) -> int:
    """Every ``train__epochs=N`` in the code cells set to ``epochs`` (and, without ``figures``, followed by
    ``train__figures=False``); the number of cells changed."""
    cells = [c for c in nb.cells if c.cell_type == "code" and EPOCHS.search(c.source)]
    more = "" if figures else ", train__figures=False"
    for cell in cells:
        cell.source = EPOCHS.sub(f"train__epochs={epochs}{more}", cell.source)
    return len(cells)


def _check_run(nb, updates: int) -> None:
    """After one "Run All": each training showed its progress as one text output, replaced as it went
    (``updates`` replacements), at the end the epochs' lines, in plain text; no library warning leaked."""
    outputs = _outputs(nb)
    shown = [o["data"]["text/plain"] for o in outputs if o.output_type == "display_data"]
    progress = [t.splitlines() for t in shown if t.startswith("epoch 1/")]
    assert progress, shown
    for lines in progress:
        epochs = int(lines[0].split()[1].split("/")[1])
        assert [line.split()[1] for line in lines] == [
            f"{e}/{epochs}" for e in range(1, epochs + 1)
        ]
        assert all("train loss" in line and "val loss" in line for line in lines)
    assert updates >= sum(len(lines) for lines in progress)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "\x1b[" not in text + "".join(shown)  # plain text in a notebook, no escape codes
    assert "Warning" not in text, text  # no library warning leaks into a reader's notebook


# one torch thread in the kernel: the suite runs `-n 2` on 2 cores, where a kernel's two OpenMP threads
# spin-wait for each other at every operation while other processes hold the cores (own_model's cnn, 6
# epochs on digits: 81 s with two threads, 1.8 s with one, on the same busy machine); what the notebooks
# show does not depend on it
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.mark.slow  # ~10-30 s each: a kernel, torch, a few tiny trainings at 2 epochs, then again at 1
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_twice_and_shows_its_figures_and_progress(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    assert _set_epochs(nb, FIRST_RUN_EPOCHS), f"{path.name}: no train__epochs= to shorten the runs"
    client = _Client(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with client.setup_kernel(env={**os.environ, **ONE_THREAD}):
        _run_all(client)
        _check_run(nb, client.updates)
        _set_epochs(nb, RERUN_EPOCHS, figures=False)
        client.updates = 0
        _run_all(client)  # again: the runs in the same out= folders start over (overwrite=True)
        _check_run(nb, client.updates)

    outputs = _outputs(nb)  # the second run's
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(o["data"].get("text/html", "") for o in outputs if "data" in o)
    # figures: matplotlib outputs, and the curves inside a Run's HTML view
    pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    pngs += re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(pngs) >= 3, f"{path.name}: {len(pngs)} inline figures"
    for png in pngs:
        assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<table" in html and "test_acc" in html  # the comparison table
    assert (tmp_path / "runs").is_dir()
    # the runs started over: none holds the first "Run All"'s figures/ files
    assert not list((tmp_path / "runs").rglob("figures/*.png"))
