"""A note when the runs here trained other epochs or on other split sizes than a report's figures were
measured with (the suite's ``reported:`` epochs / split), so a short run is not read as a failed
reproduction; the built-in suites carry what their reports say, and only that."""

import json
import re

import pytest
import yaml

from conftest import cli, one_line
from vislab.errors import ConfigError
from vislab.experiments.results.reported import as_block, as_reported, mismatches
from vislab.experiments.results.texts import results_texts, write_tables
from vislab.experiments.suites.spec import builtin_suites, load_suite
from vislab.paper_folder.build import write_paper
from vislab.training.summary import RunSummary


def summary(epochs_run: int = 10, split=(40000, 10000, 10000), **extra) -> RunSummary:
    """A finished run's summary.json fields that say how it was measured (as evaluate._summary writes)."""
    n_train, n_val, n_test = split
    base = dict(status="complete", data="cifar10", epochs_run=epochs_run, stopped_early=False)
    base.update(trained_by="optimizer", n_train=n_train, n_val=n_val, n_test=n_test)
    return RunSummary.from_json({**base, **extra})


DLVC_B_RUNS = ["cnn-simple", "cnn-deep", "cnn-deep-bn", "vit-shallow", "resnet18"]


def dlvc_compare(**kw) -> dict[str, RunSummary]:
    """dlvc-compare's cited runs (and the majority baseline, fitted: one "epoch") all alike."""
    runs = {r: summary(**kw) for r in DLVC_B_RUNS}
    return {"majority": summary(**{**kw, "epochs_run": 1, "trained_by": "fit_arrays"}), **runs}


def test_fewer_epochs_is_said_once_per_source_naming_the_runs_compactly():
    reported = load_suite("dlvc-compare").reported
    assert mismatches(reported, dlvc_compare()) == []  # measured as the report: nothing said
    # older summaries without epochs or split sizes: nothing to compare, nothing said
    assert mismatches(reported, {"resnet18": RunSummary(data="cifar10")}) == []
    [note] = mismatches(reported, dlvc_compare(epochs_run=1))
    assert note == (
        "dlvc-B's figures were measured after 10 epochs on 40k train / 10k val / 10k test images; "
        "the runs here trained 1 epoch (cnn-simple, cnn-deep, cnn-deep-bn and 2 more): "
        "not like-for-like."
    )  # the fitted majority baseline has no epochs to compare


def test_smaller_splits_are_said_with_the_runs_sizes():
    [note] = mismatches(load_suite("dlvc-compare").reported, dlvc_compare(split=(5000, 1000, 1000)))
    assert note == (
        "dlvc-B's figures were measured after 10 epochs on 40k train / 10k val / 10k test images; "
        "the runs here trained on 5k train / 1k val / 1k test images "
        "(majority, cnn-simple, cnn-deep and 3 more): not like-for-like."
    )


def test_runs_without_the_sources_figures_are_not_named():
    """dlvc-compare cites no figures for resnet18-noaug; dlvc-final none for vit-aug."""
    short = {"resnet18-noaug": summary(epochs_run=1), **dlvc_compare()}
    assert mismatches(load_suite("dlvc-compare").reported, short) == []
    final = {
        "resnet18": summary(1),
        "cnn": summary(1),
        "vit-noaug": summary(60),
        "vit-aug": summary(1),
    }
    [note] = mismatches(load_suite("dlvc-final").reported, final)
    # a run's own epochs (dlvc-final: 60, 120) over its source's split
    assert note == (
        "dlvc-C's figures were measured after 60 epochs (resnet18) or after 120 epochs (cnn) on "
        "40k train / 10k val / 10k test images; the runs here trained 1 epoch (resnet18, cnn): "
        "not like-for-like."
    )


def test_another_dataset_keeps_its_own_sentence_beside_the_sizes():
    runs = {"resnet18": summary(data="fashion-mnist", split=(54000, 6000, 10000))}
    dataset, sizes = mismatches(load_suite("dlvc-compare").reported, runs)
    assert dataset.startswith(
        "dlvc-B's figures were measured on cifar10; the runs here used fashion"
    )
    assert sizes.endswith(
        "trained on 54k train / 6k val / 10k test images (resnet18): not like-for-like."
    )


def reported(**measured) -> dict:
    return {
        "sources": {"A": {"title": "Course X, report A", "data": "10 epochs", **measured}},
        "runs": {"net": {"A": {"where": "Table 1", "test_acc": "0.7"}}},
    }


@pytest.mark.parametrize(
    "measured, run, said",
    [
        # the report trained all 10: a run stopped early trained fewer, and says how
        ({"epochs": 10}, {"epochs_run": 4, "stopped_early": True}, "stopped early after 4 epochs"),
        # both stopped on validation: the data decided, within the report's most
        ({"epochs": 10, "early_stopping": True}, {"epochs_run": 4, "stopped_early": True}, None),
        ({"epochs": 10, "early_stopping": True}, {"epochs_run": 10}, None),
        ({"epochs": 10, "early_stopping": True}, {"epochs_run": 3}, "trained 3 epochs"),
        ({"epochs": 10, "early_stopping": True}, {"epochs_run": 12}, "trained 12 epochs"),
        (
            {"epochs": 10},
            {"epochs_run": 30},
            "trained 30 epochs",
        ),  # more is not like-for-like either
        (
            {"split": {"test": 10000}},
            {"n_train": 5000, "n_test": 10000},
            None,
        ),  # only what it gives
        (
            {"split": {"test": 10000}},
            {"n_test": 500},
            "trained on 5k train / 1k val / 500 test images",
        ),
    ],
)
def test_early_stopping_and_partial_splits(measured, run, said):
    notes = mismatches(reported(**measured), {"net": summary(split=(5000, 1000, 1000), **run)})
    if said is None:
        assert notes == []
    else:
        [note] = notes
        assert f"the runs here {said} (net): not like-for-like." in note, note
    if measured.get("early_stopping"):
        assert not notes or "after at most 10 epochs (early stopping)" in notes[0]


def test_the_note_reaches_results_md_with_a_real_short_run(tmp_path, capsys, monkeypatch):
    """`vislab suite --epochs 1` on a suite whose report trained 3 epochs: results.md and report.html say so,
    for the run with that report's figures only (summary.json as the trainer writes it); the paper says it
    once, under its table (main.tex inputs tables.tex: its Notes said it a second time)."""
    spec = tmp_path / "short.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "base": {
                    "data": {"name": "digits", "limit": 300},
                    "model": {"name": "mlp", "hidden": [16]},
                    "train": {
                        "epochs": 3,
                        "batch_size": 32,
                        "device": "cpu",
                        "seed": 0,
                        "figures": False,
                    },
                },
                "runs": {"mlp": {}, "majority": {"model.name": "majority"}},
                "reported": {
                    "sources": {
                        "A": {"title": "Course X", "data": "digits, 3 epochs", "epochs": 3}
                    },
                    "runs": {"mlp": {"A": {"where": "Table 1", "test_acc": "0.9"}}},
                },
            }
        )
    )
    out = tmp_path / "out"
    # report.html: its tables alone
    monkeypatch.setattr("vislab.report.build.run_sections", lambda *a: [])
    code, text = cli(capsys, "suite", spec, "--out", out, "--epochs", "1", "-q")
    assert code == 0, text
    assert json.loads((out / "mlp" / "summary.json").read_text())["epochs_run"] == 1
    note = "A's figures were measured after 3 epochs; the runs here trained 1 epoch (mlp): not like-for-like."
    assert note in one_line((out / "results.md").read_text())
    assert note.replace("'", "&#39;") in one_line((out / "report.html").read_text())
    monkeypatch.setattr(
        "vislab.paper_folder.build.draw_sections", lambda *a: None
    )  # its tables alone
    main = write_paper([out])
    latex = {f: one_line((main.parent / f).read_text()) for f in ("main.tex", "tables.tex")}
    assert sum(text.count("not like-for-like") for text in latex.values()) == 1, latex
    assert "\\input{tables}" in latex["main.tex"] and "not like-for-like" in latex["tables.tex"]


def _numbers(text: str) -> set[int]:
    return {int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)}


def test_builtin_suites_carry_only_what_their_data_sentences_say():
    given = {}
    for name in builtin_suites():
        rep = load_suite(name).reported
        assert as_reported(as_block(rep)) == rep  # suite.json keeps the fields for `vislab report`
        for src, info in (rep.sources if rep else {}).items():
            for run, by_source in rep.runs.items():
                entry = by_source.get(src)
                if entry is None:
                    continue
                said = f"{info.data} {entry.data or ''}"
                epochs = entry.epochs or info.epochs
                sizes = {**(info.split.sizes() if info.split else {})}
                sizes.update(entry.split.sizes() if entry.split else {})
                assert epochs is None or f"{epochs} epochs" in said, (name, run, src)
                assert set(sizes.values()) <= _numbers(said), (name, run, src, sizes)
                given[name, src, run] = (epochs, sizes)
    assert given["dlvc-compare", "dlvc-B", "resnet18"] == (
        10,
        {"train": 40000, "val": 10000, "test": 10000},
    )
    assert given["dlvc-final", "dlvc-C", "cnn"][0] == 120
    assert given["cnn-ladder", "rdfia-B", "dropout"] == (20, {"train": 50000, "test": 10000})
    assert given["tricks", "mixup-paper", "resnet18"] == (200, {"test": 10000})
    # "split and epochs not given": nothing invented
    assert (
        given["mlp-basics", "rdfia-A", "default"]
        == given["vit-study", "rdfia-A", "base"]
        == (None, {})
    )


@pytest.mark.parametrize(
    "where, value, fragment",
    [
        ("source", {"epochs": -1}, "'reported.sources.A.epochs' = -1 is invalid: Input should be greater"),
        ("run", {"epochs": 0}, "'reported.runs.net.A.epochs' = 0 is invalid"),
        ("source", {"split": {"train": "40k"}}, "'reported.sources.A.split.train' = '40k' is invalid: "
         "Input should be a valid integer"),
        ("run", {"split": {"test": 99.5}}, "'reported.runs.net.A.split.test' = 99.5 is invalid"),
        ("source", {"split": {"trian": 5}}, "unknown suite key 'reported.sources.A.split.trian'. Did you "
         "mean 'reported.sources.A.split.train'?"),
        ("source", {"split": [40000, 10000, 10000]}, "'reported.sources.A.split' = [40000, 10000, 10000] "
         "is invalid: write the sizes by name, those the report gives: {train: 40000"),
    ],
)  # fmt: skip
def test_a_bad_field_is_a_clear_error_naming_the_file_and_key(
    tmp_path, capsys, where, value, fragment
):
    block = reported()
    (block["sources"]["A"] if where == "source" else block["runs"]["net"]["A"]).update(value)
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        yaml.safe_dump(
            {"base": {"data": {"name": "digits"}}, "runs": {"net": {}}, "reported": block}
        )
    )
    with pytest.raises(ConfigError) as e:
        load_suite(spec)
    assert fragment in one_line(str(e.value)) and str(spec) in str(e.value)
    code, text = cli(capsys, "suite", spec, "--out", tmp_path / "o", "-q")
    assert code == 2 and fragment in one_line(text) and not (tmp_path / "o").exists()


def test_write_tables_puts_the_note_under_the_table(tmp_path):
    write_tables(
        tmp_path,
        results_texts(
            tmp_path,
            dlvc_compare(epochs_run=2),
            title="suite dlvc-compare",
            reported=load_suite("dlvc-compare").reported,
        ),
    )
    md = one_line((tmp_path / "results.md").read_text())
    assert "**Note:** dlvc-B's figures were measured after 10 epochs" in md
    assert "the runs here trained 2 epochs (cnn-simple, cnn-deep, cnn-deep-bn and 2 more)" in md
