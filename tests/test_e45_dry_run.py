"""A suite's dry run says of each run what its suite row sets, even at vislab's default (a row named for
optim.lr=0.001, vislab's default lr, says optim.lr=0.001), and what results.md will show of it: the values
of the settings that differ between the runs where these are its columns (at most 4), else those that
tell it apart, as "Settings each run changed" lists them (all but a setting left off at vislab's default)."""

from pathlib import Path

import yaml

import vislab
from conftest import cli, tiny_base

# as cnn-ladder: a base away from vislab's defaults (sgd, lr 0.1, no normalisation), rows that set one of
# them back to its default; 6 settings differ, so results.md lists each row's changes under its table
LADDER = {
    "baseline": {},
    "standardise": {"data.normalize": "standard"},
    "adam": {"optim.name": "adam", "optim.lr": 0.001},
    "batch-16": {"train.batch_size": 16},
    "dropout": {"model.dropout": 0.1},
    "wide": {"model.hidden": [32]},
}
BASE = tiny_base(data__normalize="none", optim={"name": "sgd", "lr": 0.1})


def write_suite(path: Path, runs: dict, base: dict | None = None) -> Path:
    path.write_text(yaml.safe_dump({"base": base or tiny_base(), "runs": runs}, sort_keys=False))
    return path


def plan_lines(text: str) -> dict[str, str]:
    """The dry run's line of each run: run name → its settings after '— model NAME'."""
    found = [line.strip().split(": ", 1) for line in text.splitlines() if line.startswith("  ")]
    return {name: rest.split(" — model ", 1)[1] for name, rest in (p for p in found if len(p) == 2)}


def test_a_rows_own_settings_at_vislabs_default_are_in_its_dry_run_line(
    tmp_path, capsys, train_spy
):
    spec = write_suite(tmp_path / "ladder.yaml", LADDER, BASE)
    code, text = cli(capsys, "suite", spec, "--out", tmp_path / "out", "--dry-run")
    assert code == 0, text
    lines = plan_lines(text)
    assert "optim.lr=0.001" in lines["adam"] and "optim.name=adam" in lines["adam"]
    assert "data.normalize=standard" in lines["standardise"]
    # the base's settings away from vislab's default, as before; a default left alone is not said
    assert "data.normalize=none" in lines["baseline"] and "optim.lr=0.1" in lines["baseline"]
    assert "model.dropout" not in lines["baseline"] and "model.dropout=0.1" in lines["dropout"]
    assert train_spy == [] and not (tmp_path / "out").exists()


def test_the_dry_run_says_what_results_md_lists_and_what_each_row_sets(tmp_path, capsys):
    spec, out = write_suite(tmp_path / "ladder.yaml", LADDER, BASE), tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run")
    assert code == 0, text
    lines = plan_lines(text)
    vislab.run_suite(spec, out=out, quiet=True)
    listed = dict(
        line[4:].split("**: ", 1)
        for line in (out / "results.md").read_text().splitlines()
        if line.startswith("- **")
    )
    # each line: what results.md lists of its run, and what its row sets (adam: at vislab's default)
    for run, said in lines.items():
        texts = said.split(", ")[1:]  # after the model
        told = [] if listed[run] == "none of these settings" else listed[run].split(", ")
        own = [t for t in texts if t.split("=")[0] in LADDER[run]]
        assert sorted({*told, *own}) == sorted(texts), (run, said, listed[run])
    assert "optim.lr=0.001" in lines["adam"] and "optim.lr=0.001" in listed["adam"]
    # results.md says them too: at vislab's default, but not off (sgd elsewhere)
    assert "optim.name=adam" in listed["adam"]


def test_python_dry_run_says_a_default_lr_the_runs_differ_in(tmp_path, capsys):
    runs = {"lr-0.001": {"optim.lr": 0.001}, "lr-0.1": {"optim.lr": 0.1}}
    spec = write_suite(tmp_path / "lr.yaml", runs)
    plan = vislab.run_suite(spec, out=tmp_path / "out", dry_run=True, seeds=2, quiet=False)
    lines = plan_lines(capsys.readouterr().out)
    assert list(lines) == ["lr-0.001-s0", "lr-0.001-s1", "lr-0.1-s0", "lr-0.1-s1"]
    assert lines["lr-0.001-s0"] == "mlp, optim.lr=0.001"  # as results.md's optim.lr column
    assert lines["lr-0.1-s1"] == "mlp, optim.lr=0.1"
    assert plan.set_index("run")["optim.lr"].to_dict() == {
        "lr-0.001-s0": 0.001,
        "lr-0.001-s1": 0.001,
        "lr-0.1-s0": 0.1,
        "lr-0.1-s1": 0.1,
    }
