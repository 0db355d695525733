"""The "not like-for-like" note of a seeded suite weighs every seed of a row; each claim of its sentence names
the runs it is true of (a fitted baseline has no epochs); and summary.json's ``stopped_early`` means the run
ended before its last epoch."""

import json

import yaml

from conftest import cli, one_line, tiny_config
from vislab.experiments.results.reported import mismatches, row_summaries
from vislab.training.summary import RunSummary
from vislab.training.trainer import train


def summary(epochs_run: int, stopped_early: bool = False, **extra) -> RunSummary:
    """summary.json's fields that say how a run on digits (data.limit=300) was measured."""
    base = dict(
        status="complete", data="digits", epochs_run=epochs_run, stopped_early=stopped_early
    )
    sizes = {"trained_by": "optimizer", "n_train": 300, "n_val": 162, "n_test": 180}
    return RunSummary.from_json({**base, **sizes, **extra})


def block(sources: dict, runs: dict) -> dict:
    """A ``reported:`` block: source → its conditions, run → source → its entry's extra fields."""
    return {
        "sources": {s: {"title": "Course X", "data": "digits", **m} for s, m in sources.items()},
        "runs": {
            r: {s: {"where": "Table 1", "test_acc": "0.9", **e} for s, e in by.items()}
            for r, by in runs.items()
        },
    }


ES = block({"A": {"dataset": "digits", "epochs": 8}}, {"mlp": {"A": {}}})
ROWS = {"mlp": ["mlp-s0", "mlp-s1", "mlp-s2"]}


def test_a_row_is_weighed_by_all_its_seeds_with_their_range():
    seeds = {"mlp-s0": summary(4, True), "mlp-s1": summary(4, True), "mlp-s2": summary(5, True)}
    [note] = mismatches(ES, row_summaries(seeds, ROWS))
    assert note == (
        "A's figures were measured after 8 epochs; the runs here stopped early after 4–5 epochs (mlp): "
        "not like-for-like."
    )


def test_a_row_whose_later_seeds_alone_differ_gets_a_note():
    seeds = {"mlp-s0": summary(8), "mlp-s1": summary(6, True), "mlp-s2": summary(8)}
    [note] = mismatches(ES, row_summaries(seeds, ROWS))
    assert "the runs here trained 6–8 epochs, stopping early in 1 of 3 seeds (mlp)" in note
    seeds["mlp-s1"] = summary(8, n_train=250)  # another split size in one seed: its range
    [note] = mismatches(
        block({"A": {"split": {"train": 300}}}, {"mlp": {"A": {}}}), row_summaries(seeds, ROWS)
    )
    assert "trained on 250–300 train / 162 val / 180 test images (mlp)" in note
    # another dataset in one seed is named too
    seeds["mlp-s2"] = summary(8, data="mnist")
    [note] = mismatches(ES, row_summaries(seeds, ROWS))
    assert note.startswith("A's figures were measured on digits; the runs here used mnist")


def test_a_claim_on_epochs_names_only_the_runs_whose_figures_it_is_true_of():
    """mlp's figures were measured after 2 epochs, as the runs here trained; cnn's after 5."""
    rep = block(
        {"mine": {"epochs": 2, "split": {"train": 300}}},
        {"mlp": {"mine": {}}, "cnn": {"mine": {"epochs": 5}}},
    )
    [note] = mismatches(rep, {"mlp": summary(2), "cnn": summary(2)})
    assert note == (
        "mine's figures were measured after 5 epochs (cnn) on 300 train images; the runs here trained "
        "2 epochs (cnn): not like-for-like."
    )


def test_a_fitted_baseline_gets_no_epochs_and_each_condition_its_own_runs():
    """``--epochs 3 --set data.limit=500``: mlp and cnn trained other epochs, all three on other sizes."""
    rep = block(
        {"mine": {"epochs": 2, "split": {"train": 300}}},
        {"mlp": {"mine": {}}, "cnn": {"mine": {"epochs": 5}}, "majority": {"mine": {}}},
    )
    fitted = summary(1, trained_by="fit_arrays", n_train=500)
    runs = {"mlp": summary(3, n_train=500), "cnn": summary(3, n_train=500), "majority": fitted}
    [note] = mismatches(rep, runs)
    assert note == (
        "mine's figures were measured after 2 epochs (mlp) or after 5 epochs (cnn) on 300 train images; "
        "the runs here trained 3 epochs (mlp, cnn) and trained on 500 train / 162 val / 180 test images "
        "(mlp, cnn, majority): not like-for-like."
    )
    # the baseline alone on other sizes: the report's epochs are context, the baseline is not named with them
    [note] = mismatches(rep, {**runs, "mlp": summary(2), "cnn": summary(5)})
    assert note == (
        "mine's figures were measured on 300 train images; the runs here trained on 500 train / 162 val "
        "/ 180 test images (majority): not like-for-like."
    )


def _suite(tmp_path, epochs: int) -> str:
    spec = tmp_path / "es.yaml"
    base = {
        "data": {"name": "digits", "limit": 300},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": epochs, "early_stop": 1, "min_delta": 0.03, "device": "cpu"},
        "optim": {"lr": 0.05},
    }
    base["train"].update(batch_size=32, figures=False)
    spec.write_text(yaml.safe_dump({"base": base, "runs": {"mlp": {}}, "reported": ES}))
    return spec


def test_a_seeded_suites_report_says_every_seeds_epochs(tmp_path, capsys, monkeypatch):
    """`vislab suite es.yaml --seeds 3`: the seeds stop early after different epochs (4, 4, 5 here); the
    report's note gives their range, not seed 0's alone (report.html and the paper read ``cited``)."""
    out = tmp_path / "out"
    # report.html: its tables alone
    monkeypatch.setattr("vislab.report.build.run_sections", lambda *a: [])
    code, text = cli(capsys, "suite", _suite(tmp_path, 8), "--seeds", "3", "--out", out, "-q")
    assert code == 0, text
    done = [json.loads((out / f"mlp-s{i}" / "summary.json").read_text()) for i in range(3)]
    ran = sorted(s["epochs_run"] for s in done)
    assert all(s["stopped_early"] for s in done) and ran[0] < ran[-1], done
    said = f"stopped early after {ran[0]}–{ran[-1]} epochs (mlp)"
    assert said in one_line((out / "report.html").read_text())


def test_patience_running_out_on_the_last_epoch_is_no_early_stop(tmp_path, capsys):
    """train.min_delta=1: val_pacc never improves by 1, so train.early_stop=1's patience runs out after
    epoch 2: of 2 epochs the run trained them all (summary.json, metrics.jsonl, the log and the note say
    so); of 4 it stopped early. A resume trains nothing more either way."""
    sets = ("train.early_stop=1", "train.min_delta=1", "train.figures=false")
    run = tmp_path / "all"
    train(tiny_config("train.epochs=2", *sets), run, quiet=True)
    done = json.loads((run / "summary.json").read_text())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert (done["epochs_run"], done["stopped_early"]) == (2, False)
    assert not any("stopped_early" in r for r in rows), rows
    all_runs = {"all": RunSummary.from_json(done)}
    assert mismatches(block({"A": {"epochs": 2}}, {"all": {"A": {}}}), all_runs) == []
    code, text = cli(capsys, "train", "-q", "--resume", run)
    assert code == 0 and "stopped early" not in text and "early stop" not in text, text
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["epoch"] == 2
    early = tmp_path / "early"
    train(tiny_config("train.epochs=4", *sets), early, quiet=True)
    done = json.loads((early / "summary.json").read_text())
    last = json.loads((early / "metrics.jsonl").read_text().splitlines()[-1])
    assert (done["epochs_run"], done["stopped_early"], last["stopped_early"]) == (2, True, True)
    early_runs = {"early": RunSummary.from_json(done)}
    [note] = mismatches(block({"A": {"epochs": 4}}, {"early": {"A": {}}}), early_runs)
    assert "the runs here stopped early after 2 epochs (early)" in note
    code, text = cli(capsys, "train", "-q", "--resume", early)  # an early stop outlives a resume
    said = " ".join(text.split())
    assert code == 0 and "is complete (it stopped early after epoch 2" in said, text
    assert json.loads((early / "summary.json").read_text())["stopped_early"] is True
