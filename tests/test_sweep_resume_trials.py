"""An interrupted sweep trial is not trained again from scratch: the re-run's re-queued trial (same parameters)
moves the interrupted trial's folder to its own trials/<number> and resumes its last.pt, ending as an
uninterrupted trial would, while the study records the interrupted trial as failed and the new one as complete."""

import csv
import os
import re
import signal
from collections.abc import Callable

import pytest
import yaml
from optuna.trial import TrialState

import vislab.training.optim as optim_mod
import vislab.training.trainer as trainer_mod
from conftest import tiny_base, tiny_sweep
from test_resume import run_result
from vislab.errors import TrainingInterrupted
from vislab.experiments.sweeps.runner import run_sweep
from vislab.experiments.sweeps.spec import load_sweep
from vislab.training.rundir import RunDir
from vislab.training.trainer import train

SPEC = tiny_sweep(
    name="r",
    base=tiny_base(train__epochs=3, train__threads=1, model__dropout=0.2),
    metric="val_pacc",
    seed=3,
)


def stop_in_trials(
    monkeypatch, stops: dict[int, Callable[[int], int]]
) -> tuple[list[str], Callable[[str], None]]:
    """A SIGTERM in trial ``n`` as it takes optimizer step ``stops[n](steps per epoch)`` (the step runs,
    last.pt is saved, the sweep stops), once per trial; (the lines logged, the log that sees which trial
    trains)."""
    lines, now, sent = [], {}, set()
    real = optim_mod.lr_factor

    def lr_factor(cfg, step, steps_per_epoch, *a):
        n = now.get("trial")
        if n in stops and n not in sent and step == stops[n](steps_per_epoch):
            sent.add(n)
            os.kill(os.getpid(), signal.SIGTERM)
        return real(cfg, step, steps_per_epoch, *a)

    def log(line: str) -> None:  # "trial N: optim.lr=..." as trial N starts
        lines.append(line)
        if m := re.match(r"trial (\d+): optim", line):
            now["trial"] = int(m.group(1))

    monkeypatch.setattr(optim_mod, "lr_factor", lr_factor)
    return lines, log


@pytest.mark.parametrize(
    "stops, left",
    [
        ({1: lambda n: n + 2}, 2),  # trial 1 in its 2nd epoch; left: the rest of epoch 2, epoch 3
        ({1: lambda n: n + 2, 2: lambda n: 2 * n + 1}, 1),  # and its re-run trial 2 in epoch 3
    ],
    ids=["once", "twice"],
)
def test_an_interrupted_trial_resumes_in_the_rerun_and_ends_as_an_uninterrupted_one(
    tmp_path, monkeypatch, stops, left
):
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    sweep, out = load_sweep(spec_file), tmp_path / "sw"
    lines, log = stop_in_trials(monkeypatch, stops)
    for n in stops:
        with pytest.raises(TrainingInterrupted, match=f"trial {n} .*resumes the run from its last"):
            run_sweep(sweep, out, trials=2, log=log)
        assert (out / "trials" / str(n) / "checkpoints" / "last.pt").is_file()

    epochs = []  # the epochs the re-run trains (each begun or resumed)
    real_epoch = trainer_mod.train_one_epoch
    monkeypatch.setattr(
        trainer_mod, "train_one_epoch", lambda t, stop: epochs.append(1) or real_epoch(t, stop)
    )
    study = run_sweep(sweep, out, trials=2, log=log)
    assert len(epochs) == left, lines
    done, *interrupted, resumed = study.trials
    last = resumed.number  # 2, or 3 after two interruptions
    assert [t.state for t in study.trials] == [
        TrialState.COMPLETE,
        *[TrialState.FAIL] * len(stops),
        TrialState.COMPLETE,
    ]
    assert all(t.params == resumed.params for t in interrupted)
    assert resumed.user_attrs["resume_from"] == str((out / "trials" / str(last - 1)).resolve())
    # moved: each folder is its trial's
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0", str(last)]
    assert any(f"trial {last}: resumes the interrupted run" in line for line in lines), lines

    # the same numbers as trial 1's parameters trained without interruption
    folder = out / "trials" / str(last)
    train(RunDir(folder).load_config(), tmp_path / "ref", quiet=True)
    ref = run_result(tmp_path / "ref")
    assert run_result(folder) == ref
    assert [r["epoch"] for r in ref["rows"]] == [1, 2, 3]
    assert resumed.value == pytest.approx(ref["val_pacc"])
    # the pruner heard each epoch once, with the run's values
    assert resumed.intermediate_values == {r["epoch"]: r["val_pacc"] for r in ref["rows"]}

    with open(out / "trials.csv", newline="") as f:
        rows = {r["number"]: r for r in csv.DictReader(f)}
    assert [rows[str(t.number)]["state"] for t in study.trials] == [
        "complete",
        *["interrupted"] * len(stops),
        "complete",
    ]
    assert all(rows[str(t.number)]["error"].startswith("interrupted") for t in interrupted)
    assert rows[str(last)]["error"] == ""
    assert float(rows[str(last)]["val_pacc"]) == pytest.approx(ref["val_pacc"])
    md = (out / "results.md").read_text()
    shown = set(re.findall(r"trial-\d+", md))
    assert shown == {"trial-0", f"trial-{last}"}, md
    # counted as interrupted, not failed: results.md and sweep show's title
    n = len(stops)
    assert f"{n} interrupted" in md and "failed" not in md, md
    from vislab.experiments.sweeps.trials import best_table

    assert best_table(study).title.endswith(f"2 complete, {n} interrupted")
    assert f"2 complete trials in this table; {n} interrupted" in md, md
