"""Small fixes: a train.ema run scored without best.pt is scored on the average (and says so); a sweep's
sweep.yaml records the trials it ran."""

import json

import yaml

from conftest import cli, one_line, tiny_sets, tiny_sweep


# ------------------------------------------------------------------ a train.ema run without best.pt
def test_an_ema_run_scored_without_best_pt_is_scored_on_the_average(tmp_path, capsys):
    """A complete train.ema run scored again without best.pt (deleted, its summary.json lost) scores the
    weight average, as best.pt held it, and says so: the same test scores as best.pt gave."""
    run = tmp_path / "run"
    code, text = cli(capsys, "train", *tiny_sets("train.ema.decay=0.9", "train.figures=false"),
                     "--out", run, "-q")  # fmt: skip
    assert code == 0, text
    first = json.loads((run / "summary.json").read_text())
    assert first["scored"] == "best.pt, epoch 1"
    (run / "checkpoints" / "best.pt").unlink()
    (run / "summary.json").unlink()  # the resume scores the run again
    code, text = cli(capsys, "train", "--resume", run, "-q")
    assert code == 0, text
    assert "done (the train.ema average of the last weights, epoch 1)" in one_line(text), text
    again = json.loads((run / "summary.json").read_text())
    assert again["scored"] == "the train.ema average of the last weights, epoch 1"
    assert again["best_epoch"] == 1
    assert (again["test_acc"], again["test_loss"]) == (first["test_acc"], first["test_loss"])
    assert (again["val_acc"], again["val_loss"]) == (first["val_acc"], first["val_loss"])


# ---------------------------------------------------------------------- a sweep's recorded trials
SWEEP = tiny_sweep(name="n3", base__data__limit=120, base__model__hidden=[8], trials=5)


def test_a_two_stage_sweep_records_the_trials_each_stage_ran(tmp_path, capsys):
    """The file asks for 5 trials, --trials 1 runs 1: DIR/sweep.yaml records 1 (as DIR/narrow/sweep.yaml
    records --narrow-trials), so going on from it trains nothing more."""
    spec = tmp_path / "n3.yaml"
    spec.write_text(yaml.safe_dump(SWEEP, sort_keys=False))
    out = tmp_path / "sw"
    code, text = cli(capsys, "sweep", spec, "--trials", 1, "--narrow", 1, "--narrow-trials", 1,
                     "--out", out, "--no-report")  # fmt: skip
    assert code == 0, text
    assert yaml.safe_load((out / "sweep.yaml").read_text())["trials"] == 1
    assert yaml.safe_load((out / "narrow" / "sweep.yaml").read_text())["trials"] == 1
    code, text = cli(capsys, "sweep", out / "sweep.yaml", "--out", out, "--no-report")
    assert code == 0 and "study 'n3' already holds 1 finished trial" in text, text
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0"]
