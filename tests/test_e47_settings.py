"""A model option set to the value its model uses when it is left unset (a cnn's model.dropout=0 where its
preset has no dropout, an mlp's model.activation=relu) does not tell two runs apart in results.md: the
run that sets it and the one that leaves it to its model train alike, and their rows say the same."""

import json
import re
from pathlib import Path

from conftest import table_run
from vislab.experiments.results.for_people import LISTED
from vislab.experiments.results.texts import results_texts, write_tables
from vislab.training.summary import RunSummary

CNN = ("model.name=cnn", "model.widths=[4,8]", "model.fc=[8]")


def run(folder: Path, name: str, *assignments: str) -> Path:
    """A finished run (:func:`table_run`) whose summary names its model as its config does."""
    path = table_run(folder, name, *assignments)
    summary = json.loads((path / "summary.json").read_text())
    summary["model"] = "cnn" if "model.name=cnn" in assignments else "mlp"
    (path / "summary.json").write_text(json.dumps(summary))
    return path


def results_md(folder: Path, runs: list[Path]) -> str:
    summaries = {
        p.name: RunSummary.from_json(json.loads((p / "summary.json").read_text())) for p in runs
    }
    write_tables(folder, results_texts(folder, summaries))
    return (folder / "results.md").read_text()


def listed_lines(md: str) -> dict[str, str]:
    """The "Settings each run changed" list under results.md's table: row → its line."""
    after = md[md.index(f"**{LISTED}**") :]
    return dict(re.findall(r"^- \*\*(.+?)\*\*: (.*)$", after, re.M))


def table_rows(md: str) -> dict[str, str]:
    """results.md's table: run → its row after the run's cell."""
    return dict(re.findall(r"^\| (\S+) \|(.*)$", md, re.M))


def test_a_cnn_option_at_its_presets_value_lists_as_the_run_that_leaves_it(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    runs = [
        run(folder, "plain", *CNN),
        run(folder, "drop0", *CNN, "model.dropout=0.0"),  # rdfia, the default preset: no dropout
        run(folder, "bn0", *CNN, "model.batchnorm=false"),
        run(folder, "preset", *CNN, "model.preset=rdfia", "model.kernel_size=5"),
        run(folder, "lr", *CNN, "optim.lr=0.05"),
        run(folder, "bs", *CNN, "train.batch_size=32"),
        run(folder, "ep", *CNN, "train.epochs=3"),
        run(folder, "simple", *CNN, "model.preset=simple", "model.dropout=0"),
        run(folder, "mlp", "model.name=mlp", "model.hidden=[16]", "model.dropout=0.3"),
    ]
    lines = listed_lines(results_md(folder, runs))
    assert lines["drop0"] == lines["plain"] == lines["bn0"] == lines["preset"]
    assert "model.dropout" not in lines["plain"]
    assert "model.dropout=0.3" in lines["mlp"]
    # the simple preset has dropout 0.5: switching it off there is a change, and listed
    assert "model.dropout=0" in lines["simple"] and "model.preset=simple" in lines["simple"]


def test_an_mlp_option_at_its_builders_default_is_no_column_of_its_own(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    runs = [
        run(folder, "plain", "model.hidden=[16]"),
        run(folder, "relu", "model.hidden=[16]", "model.activation=relu", "model.dropout=0"),
        run(folder, "tanh", "model.hidden=[16]", "model.activation=tanh"),
    ]
    md = results_md(folder, runs)
    assert LISTED not in md  # one setting differs: a column
    rows = table_rows(md)
    assert rows["relu"] == rows["plain"] != rows["tanh"]
    assert "| model.activation |" in md and "model.dropout" not in md
