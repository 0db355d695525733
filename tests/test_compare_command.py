"""``vislab compare RUN_OR_FOLDER...``: the table a suite prints (its results.md) for any finished runs, on
the terminal and, with --csv / --md, as results.csv / results.md files; unfinished runs left out and
listed; bad input a message and exit code 2."""

import json
import shutil
from pathlib import Path

import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line
from vislab.experiments.results.texts import results_texts, write_tables


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """runs/a and runs/b: two tiny finished runs that differ in optim.lr (trained once per module)."""
    root = tmp_path_factory.mktemp("compare") / "runs"
    vislab.train(out=root / "a", **TINY_DIGITS)
    vislab.train(out=root / "b", optim__lr=0.01, **TINY_DIGITS)
    return root


def copied(runs: Path, folder: Path, *names: str) -> Path:
    """``folder`` holding copies of the runs ``names``."""
    for name in names:
        shutil.copytree(runs / name, folder / name)
    return folder


def interrupted(run: Path) -> None:
    """The run's summary.json as a run stopped by Ctrl-C leaves it."""
    summary = json.loads((run / "summary.json").read_text())
    summary.update(status="interrupted", message="stopped by Ctrl-C")
    (run / "summary.json").write_text(json.dumps(summary))


def test_two_runs_print_the_table_a_suite_writes_as_results_md(runs, tmp_path, capsys):
    code, text = cli(capsys, "compare", runs / "a", runs / "b")
    assert code == 0, text
    dirs = {n: runs / n for n in "ab"}
    summaries = {n: vislab.load_run(d).summary for n, d in dirs.items()}
    write_tables(tmp_path, results_texts(tmp_path, summaries, run_dirs=dirs))
    # model, seed, the setting that differs, the best cells bold and what bold means
    assert (tmp_path / "results.md").read_text().strip() in text
    assert "| run | model | seed | optim.lr |" in text and "**" in text
    assert "compare" in cli(capsys, "--help")[1]


def test_a_folder_of_runs_leaves_out_unfinished_ones_and_lists_them(runs, tmp_path, capsys):
    folder = copied(runs, tmp_path / "mine", "a", "b")
    interrupted(folder / "b")
    code, text = cli(capsys, "compare", folder)
    assert code == 0, text
    assert "| a | mlp |" in text and "| b |" not in text
    assert (  # why, and the fix
        "- **b**: not finished (status interrupted: stopped by Ctrl-C; continue it from its last "
        f"checkpoint: vislab train --resume {folder / 'b'} (Python: "
    ) in text
    (folder / "c").mkdir()  # a run that stopped before its first epoch: its config alone
    shutil.copy(runs / "a" / "config.yaml", folder / "c")
    code, text = cli(capsys, "compare", folder / "a", folder / "c")
    assert code == 0 and "- **c**: not finished (no summary.json and no checkpoint" in text


def test_a_suite_folder_prints_its_title(runs, tmp_path, capsys):
    suite = copied(runs, tmp_path / "suite", "a", "b")
    (suite / "suite.json").write_text(json.dumps({"name": "mine", "order": ["b", "a"], "runs": {}}))
    code, text = cli(capsys, "compare", suite)
    assert code == 0 and "# suite mine" in text
    assert text.index("| b | mlp |") < text.index("| a | mlp |")  # the suite's order


def test_sort_orders_best_first_and_names_the_closest_columns(runs, capsys):
    for column in ("val_acc", "test_loss"):
        code, text = cli(capsys, "compare", runs / "a", runs / "b", "--sort", column)
        assert code == 0 and text.index("| b | mlp |") < text.index("| a | mlp |"), text
    code, text = cli(capsys, "compare", runs / "b", runs / "a", "--sort", "optim.lr")
    assert text.index("| a | mlp |") < text.index("| b | mlp |")  # a setting: ascending
    code, text = cli(capsys, "compare", runs, "--sort", "val_ac")
    assert code == 2 and "cannot sort by 'val_ac'" in text and "closest: val_acc" in text


def test_csv_and_md_write_results_csv_and_md(runs, tmp_path, capsys):
    out_csv, out_md = tmp_path / "t" / "table.csv", tmp_path / "table.md"
    code, text = cli(capsys, "compare", runs, "--csv", out_csv, "--md", out_md)
    assert code == 0, text
    assert (
        out_csv.read_text()
        .splitlines()[0]
        .startswith("run,model,seed,optim.lr,test_set,train_acc,")
    )
    assert out_md.read_text().strip() in text
    code, text = cli(capsys, "compare", runs, "--csv", out_csv)
    assert code == 2 and "already exists: give --force" in one_line(text)
    assert cli(capsys, "compare", runs, "--csv", out_csv, "--force")[0] == 0
    code, text = cli(capsys, "compare", runs, "--md", runs / "a" / "summary.json", "--force")
    assert code == 2 and "never replaces" in text
    assert (runs / "a" / "summary.json").read_text().startswith("{")


@pytest.mark.parametrize(
    "given, said",
    [
        ("missing", "'{p}' does not exist"),
        ("file", "'{p}' is a file"),
        ("empty", "'{p}' holds no runs"),
        ("unfinished", "no finished run to compare in {p}"),
    ],
)
def test_bad_input_is_a_message_and_exit_code_2(runs, tmp_path, capsys, given, said):
    path = tmp_path / given
    if given == "file":
        path.write_text("x")
    elif given == "empty":
        path.mkdir()
    elif given in ("damaged", "unfinished"):
        copied(runs, path, "a")
        if given == "damaged":
            (path / "a" / "summary.json").write_text('{"status": "comp')
        else:
            interrupted(path / "a")
    code, text = cli(capsys, "compare", path, runs / "b" if given == "damaged" else path)
    assert code == 2 and said.format(p=path) in one_line(text), text
