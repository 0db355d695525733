"""Sweeps (session 26): values drawn again are not trained again, a dry run's notes are of settings the
trials have, and the best-trials table shows whole key names."""

import csv
from pathlib import Path

import optuna
import yaml
from optuna.distributions import CategoricalDistribution
from rich.console import Console
from rich.text import Text

import vislab
from conftest import cli, tiny_base
from vislab.cli import terminal
from vislab.experiments.results.table import TextTable
from vislab.experiments.sweeps.objective import Objective
from vislab.experiments.sweeps.runner import _work
from vislab.experiments.sweeps.spec import sweep_of

# two values: the random sampler of seed 1 draws 0.1, 0.1, then 0.01
SWEEPS = "experiments/sweeps/builtin"
TWO_LRS = {"optim.lr": {"type": "categorical", "choices": [0.01, 0.1]}}


def spec_file(tmp_path: Path, **keys) -> Path:
    path = tmp_path / "t.yaml"
    tree = {"name": "t", "base": tiny_base(train__threads=1), "space": TWO_LRS, "sampler": "random"}
    path.write_text(yaml.safe_dump({**tree, "seed": 1, **keys}))
    return path


def trials_csv(out: Path) -> list[dict]:
    with open(out / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_values_drawn_again_are_not_trained_again(tmp_path, capsys):
    out = tmp_path / "sw"
    code, text = cli(
        capsys, "sweep", spec_file(tmp_path), "--out", out, "--trials", "2", "--no-report"
    )
    assert code == 0, text
    assert "trial 1: same values as trial 0, not trained again" in text
    rows = trials_csv(out)
    assert [(r["number"], r["state"], r["same_as"]) for r in rows] == [
        ("0", "complete", ""),
        ("1", "repeated", "0"),
        ("2", "complete", ""),
    ]
    assert rows[1]["val_pacc"] == rows[0]["val_pacc"]  # trial 0's figure, not a second training
    assert {r["optim.lr"] for r in rows if r["state"] == "complete"} == {"0.01", "0.1"}
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0", "2"]
    md = (out / "results.md").read_text()
    assert "Repeated, not trained again: trial 1 (same as trial 0)." in " ".join(md.split())
    assert "trial-1" not in md and "not here" not in md  # no row of its own


def test_a_space_smaller_than_the_trials_asked_trains_each_combination_once(tmp_path, capsys):
    out = tmp_path / "sw"
    code, text = cli(
        capsys, "sweep", spec_file(tmp_path), "--out", out, "--trials", "5", "--no-report"
    )
    assert code == 0, text
    assert "the space holds 2 combinations, fewer than the 5 trials" in text
    assert "the sweep trains 2 trials, each combination once" in text
    trained = [r for r in trials_csv(out) if r["state"] == "complete"]
    assert sorted(r["optim.lr"] for r in trained) == ["0.01", "0.1"]


def test_a_sampler_that_keeps_drawing_trained_values_stops(tmp_path):
    tree = {"name": "t", "base": tiny_base(), "space": TWO_LRS, "sampler": "random"}
    sweep = sweep_of(tree, tmp_path / "t.yaml")
    study = optuna.create_study(direction="maximize")
    for lr in (0.01, 0.1):  # every value trained
        dist = {"optim.lr": CategoricalDistribution([0.01, 0.1])}
        study.add_trial(
            optuna.trial.create_trial(params={"optim.lr": lr}, distributions=dist, value=0.5)
        )
    said: list[str] = []
    objective = Objective(sweep, tiny_base(), tmp_path / "trials", 3, True, said.append)
    _work(study, objective, 3, None, said.append)  # 3: more than the space holds
    assert said[-1].startswith("note: the sampler drew values trained before 50 times in a row;")
    assert "stopping with 2 of the 3 trials asked for" in said[-1]
    assert len(study.trials) == 52 and not (tmp_path / "trials").exists()


def test_a_dry_runs_notes_are_of_the_settings_the_trials_have(tmp_path, capsys):
    # the bare base (adamw, weight decay 0) gives a note no trial gives: each draws a weight decay
    space = {"optim.weight_decay": {"type": "float", "low": 1e-3, "high": 0.3, "log": True}}
    base = tiny_base(optim__name="adamw", optim__weight_decay=0.0)
    path = spec_file(tmp_path, base=base, space=space)
    code, text = cli(capsys, "sweep", path, "--out", tmp_path / "sw", "--dry-run")
    assert code == 0, text
    assert "is Adam" not in text
    # at a weight decay of 0 it is a setting the trials have: said
    space = {"optim.weight_decay": {"type": "categorical", "choices": [0.0, 0.1]}}
    path = spec_file(tmp_path, base=base, space=space)
    code, text = cli(capsys, "sweep", path, "--out", tmp_path / "sw", "--dry-run")
    assert code == 0, text
    assert "optim.name=adamw with optim.weight_decay=0 is Adam" in text


# the best-trials table of the built-in dlvc-vit sweep: wider than 200 characters
VIT = yaml.safe_load((Path(vislab.__file__).parent / SWEEPS / "dlvc-vit.yaml").read_text())
HEADS = ["trial", "val_acc", *sorted(VIT["space"])]


def best_trials() -> TextTable:
    rows = [[str(n), f"0.{8123 - n}", *(["0.0123"] * (len(HEADS) - 2))] for n in range(2)]
    return TextTable(headers=HEADS, justify=["right"] * len(HEADS), rows=rows, title="study t")


def test_the_best_trials_table_shows_whole_key_names_into_a_pipe(capsys):
    terminal.print_table(best_trials())
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "trial" in line and "val_acc" in line)
    assert len(header) > 200
    assert all(f" {name} " in header for name in HEADS) and "…" not in out


def test_the_best_trials_table_comes_in_blocks_on_a_narrow_terminal(monkeypatch, capsys):
    monkeypatch.setattr(terminal, "Console", lambda **kw: Console(force_terminal=True, width=60))
    terminal.print_table(best_trials())
    lines = capsys.readouterr().out.splitlines()
    assert max(len(Text.from_ansi(line)) for line in lines) <= 60
    headers = [Text.from_ansi(line).plain for line in lines if line.startswith("┃")]
    assert len(headers) > 2 and all("trial" in h for h in headers)  # each block starts with it
    assert all(sum(f" {name} " in h for h in headers) == 1 for name in HEADS[1:])  # whole, once
    assert "…" not in "".join(lines)
