"""Sweeps (session 26): values drawn again are not trained again, a dry run's notes are of settings the
trials have, and the best-trials table shows whole key names."""

import csv
import re
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState
from rich.console import Console
from rich.text import Text

import vislab
from conftest import cli, tiny_base
from vislab.cli import terminal
from vislab.experiments.results.table import TextTable
from vislab.experiments.sweeps import attrs, trials
from vislab.experiments.sweeps.objective import Objective, Repeated
from vislab.experiments.sweeps.results import trial_counts
from vislab.experiments.sweeps.runner import _nothing_to_train, _work, count_busy, trial_count
from vislab.experiments.sweeps.samplers import build_sampler
from vislab.experiments.sweeps.spec import sweep_of
from vislab.experiments.sweeps.study import requeue
from vislab.paper_folder.texts import trials_left_out
from vislab.report.sweep import trial_figures

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
    assert "trial 1: same values as trial 0 (complete), not trained again" in text
    rows = trials_csv(out)
    assert [(r["number"], r["state"], r["same_as"]) for r in rows] == [
        ("0", "complete", ""),
        ("1", "repeated", "0"),
        ("2", "complete", ""),
    ]
    assert rows[1]["val_pacc"] == ""  # no figure of its own: it trained nothing
    assert {r["optim.lr"] for r in rows if r["state"] == "complete"} == {"0.01", "0.1"}
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0", "2"]
    md = (out / "results.md").read_text()
    assert "Repeated, not trained again: trial 1 (same as trial 0)." in " ".join(md.split())
    assert "trial-1" not in md and "not here" not in md  # no row of its own
    code, text = cli(capsys, "report", out)
    assert code == 0, text
    html = (out / "report.html").read_text()
    assert "Repeated, not trained again: trial 1 (same as trial 0)." in html
    table = html[html.index('id="trials"') :].split("</table>")[0]
    numbers = re.findall(r'<td data-sort="(\d+)">\d+</td><td class="text">', table)
    assert numbers == ["0", "2"]  # no row of its own


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
    assert said[-1] == (
        "note: every combination of the space is drawn; stopping with 2 of the 3 trials asked for"
    )
    assert len(study.trials) == 3 and not (tmp_path / "trials").exists()  # one repeat, not 50


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


# --- review of 0eb5823: a repeat is failed for Optuna and repeats any trial drawn before
THREE_LRS = {"optim.lr": {"type": "categorical", "choices": [0.01, 0.1, 0.05]}}


class _Summary(dict):
    """What a faked trial's run returns: its metrics by name."""


def fake_sweep(
    tmp_path,
    monkeypatch,
    space: dict,
    seed: int,
    bad: float | None = None,
    prune=True,
    sampler="random",
):
    """A sweep (of ``sampler``) whose trials train nothing (``Objective._train`` faked: the lr is the
    metric; lr ``bad`` is pruned, or fails with ``prune`` False); (the sweep, its study, the lrs
    trained, in order)."""
    tree = {"name": "t", "base": tiny_base(), "space": space, "sampler": sampler, "seed": seed}
    sweep = sweep_of(tree, tmp_path / "t.yaml")
    study = optuna.create_study(direction="maximize", sampler=build_sampler(sweep, seed))
    trained: list[float] = []

    def fake_train(self, trial, tree, run_dir, resumed):
        lr = self.values["optim.lr"]
        trained.append(lr)
        if lr == bad and prune:
            raise optuna.TrialPruned("pruned")
        if lr == bad:
            self._failed(trial, "boom")
        trial.set_user_attr(attrs.RUN_DIR, str(run_dir))
        return _Summary(val_pacc=lr)

    monkeypatch.setattr(Objective, "_train", fake_train)
    return sweep, study, trained


def test_a_pruned_or_failed_combination_is_not_trained_again(tmp_path, monkeypatch):
    for prune in (True, False):
        sweep, study, trained = fake_sweep(tmp_path, monkeypatch, THREE_LRS, 3, 0.1, prune)
        said: list[str] = []
        n = trial_count(sweep, 5, said.append)  # 3: the space's combinations
        _work(
            study,
            Objective(sweep, tiny_base(), tmp_path, n, True, said.append),
            n,
            None,
            said.append,
        )
        assert sorted(trained) == [0.01, 0.05, 0.1]  # each once
        word = "pruned" if prune else "failed"
        repeats = [t for t in study.trials if attrs.repeats(t) is not None]
        assert repeats and any(f"({word}), not trained again" in line for line in said)
        # failed for Optuna: no sampler, pruner, importance or best trial counts a repeat
        assert all(t.state == TrialState.FAIL for t in repeats)
        assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 2
        assert study.best_trial.user_attrs[attrs.RUN_DIR]


def test_values_another_worker_runs_are_not_trained_twice(tmp_path, monkeypatch):
    sweep, study, trained = fake_sweep(tmp_path, monkeypatch, TWO_LRS, 1)
    other = study.ask(
        {"optim.lr": CategoricalDistribution([0.01, 0.1])}
    )  # another worker's trial 0
    said: list[str] = []
    objective = Objective(sweep, tiny_base(), tmp_path, 2, True, said.append)
    _work(study, objective, 2, None, said.append)
    assert trained == [0.01 if other.params["optim.lr"] == 0.1 else 0.1]
    assert any("(running on another worker), not trained again" in line for line in said)


def test_an_exhausted_space_says_every_combination_is_taken(tmp_path, capsys):
    out = tmp_path / "sw"
    args = ("sweep", spec_file(tmp_path), "--out", out, "--no-report")
    assert cli(capsys, *args, "--trials", "2")[0] == 0
    code, text = cli(capsys, *args, "--trials", "3")  # capped to the space's 2
    assert code == 0, text
    assert "every combination of its space is taken" in text
    assert "give --trials" not in text


def test_a_log_int_range_counts_its_combinations_without_a_grid_hint():
    tree = {"name": "t", "base": tiny_base(), "sampler": "random"}
    space = {"train.batch_size": {"type": "int", "low": 2, "high": 5, "log": True}}
    sweep = sweep_of({**tree, "space": space}, Path("t.yaml"))
    said: list[str] = []
    assert trial_count(sweep, 10, said.append) == 4
    assert "the space holds 4 combinations, fewer than the 10 trials" in said[0]
    assert "sampler: grid" not in said[0]  # the grid refuses a log range


def repeats_study(n: int) -> optuna.Study:
    """A study of one complete trial and ``n`` repeats of it (failed, same_as 0)."""
    study = optuna.create_study(direction="maximize")
    dist = {"optim.lr": CategoricalDistribution([0.01, 0.1])}
    study.add_trial(
        optuna.trial.create_trial(params={"optim.lr": 0.1}, distributions=dist, value=0.5)
    )
    for _ in range(n):
        study.add_trial(
            optuna.trial.create_trial(
                params={"optim.lr": 0.1},
                distributions=dist,
                state=TrialState.FAIL,
                user_attrs={attrs.SAME_AS: 0},
            )
        )
    return study


def test_repeats_are_counted_not_listed_and_in_no_left_out_list():
    study = repeats_study(9)
    line = trial_counts(study, ["trial-0"])
    assert "1 complete trial in this table; 9 repeated." in line
    assert line.endswith(
        "Repeated, not trained again: trial 1 (same as trial 0), trial 2 (same as trial 0), "
        "trial 3 (same as trial 0) and 6 more."
    )
    assert trials_left_out(study) == []  # no such run as trial-1
    header = trials.trials_csv(optuna.create_study()).splitlines()[0]
    assert header.endswith(",same_as,error")  # the same columns, repeats or not


def test_a_failed_trial_queued_again_is_trained_by_its_retry(tmp_path, monkeypatch):
    # a trial failed without the interrupted mark (optuna's own heartbeat check) whose retry is queued
    sweep, study, trained = fake_sweep(tmp_path, monkeypatch, TWO_LRS, 1)
    dist = {"optim.lr": CategoricalDistribution([0.01, 0.1])}
    failed = optuna.trial.create_trial(
        params={"optim.lr": 0.1}, distributions=dist, state=TrialState.FAIL
    )
    study.add_trial(failed)
    requeue(study, study.trials[0])
    said: list[str] = []
    _work(
        study, Objective(sweep, tiny_base(), tmp_path, 1, True, said.append), 1, None, said.append
    )
    assert trained == [0.1] and "not trained again" not in " ".join(said)


# --- review of 51181af: a sampler that keeps drawing trained values (TPE ignores the failed repeats)
THREE_BY_TWO = {**THREE_LRS, "optim.weight_decay": {"type": "categorical", "choices": [0.0, 0.1]}}


def test_tpe_over_a_finite_space_trains_every_combination_asked_for(tmp_path, monkeypatch):
    sweep, study, trained = fake_sweep(tmp_path, monkeypatch, THREE_BY_TWO, 0, sampler="tpe")
    said: list[str] = []
    n = trial_count(sweep, 6, said.append)
    _work(
        study, Objective(sweep, tiny_base(), tmp_path, n, True, said.append), n, None, said.append
    )
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len({tuple(sorted(t.params.items())) for t in done}) == 6  # each combination once
    repeats = [t for t in study.trials if attrs.repeats(t) is not None]
    assert len(repeats) < 6 and len(study.trials) == 6 + len(
        repeats
    )  # each repeat queues new values
    assert not any("stopping with" in line for line in said)


def test_values_a_later_worker_trains_already_are_not_trained_twice(tmp_path, monkeypatch):
    one = {"optim.lr": {"type": "categorical", "choices": [0.1]}}
    sweep, study, trained = fake_sweep(tmp_path, monkeypatch, one, 0)
    first, later = study.ask(), study.ask()  # two workers: the later trial draws its values first
    said: list[str] = []
    Objective(sweep, tiny_base(), tmp_path, 2, True, said.append)(later)
    with pytest.raises(Repeated):
        Objective(sweep, tiny_base(), tmp_path, 2, True, said.append)(first)
    assert trained == [0.1]
    assert said[-1].startswith(
        f"trial {first.number}: same values as trial {later.number} (running on another worker)"
    )


def test_a_repeat_stored_complete_by_an_earlier_vislab_counts_nowhere():
    # before 51181af a repeat was complete, with the value of the trial it repeats
    study = optuna.create_study(direction="maximize")
    dist = {"optim.lr": CategoricalDistribution([0.01, 0.1])}
    for lr, value, same in ((0.1, 0.5, None), (0.1, 0.5, 0), (0.01, 0.4, None)):
        attributes = {} if same is None else {attrs.SAME_AS: same}
        study.add_trial(
            optuna.trial.create_trial(
                params={"optim.lr": lr}, distributions=dist, value=value, user_attrs=attributes
            )
        )
    assert [t.number for t in trials.best(study, 3)] == [0, 2]
    assert list(trials.database_summaries(study, ())) == ["trial-0", "trial-2"]
    assert "(this sweep has 2)" in trials.importance_note(study)
    assert trial_figures(study) == ["history", "parallel"]
    note = _nothing_to_train(study, 2, "--trials", count_busy(study), False)
    assert "already holds 2 finished trials" in note
