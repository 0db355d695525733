"""Small mends of the twenty-second session: notes a user was owed."""

from __future__ import annotations

import pytest
from PIL import Image

import vislab
from conftest import cli, one_line
from vislab.errors import Note


def test_a_colour_image_predicted_by_a_grey_model_is_noted_as_converted(
    trained, digit_png, capsys, tmp_path
):
    red = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (200, 20, 20)).save(red)
    code, text = cli(capsys, "predict", trained, red, digit_png)
    assert code == 0, text
    said = one_line(text)
    assert "red.png: colour image, converted to grey for model" in said, said
    assert "seven.png:" not in said.split("note:")[-1]  # a grey image is not converted
    with pytest.warns(Note, match="red.png: colour image, converted to grey"):
        vislab.load_run(trained).predict([red])


_NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        c, h, w = input_shape
        self.fc = nn.Linear(c * h * w, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def test_a_model_file_beside_the_suite_file_is_named_as_found_from_here(
    tmp_path, capsys, monkeypatch
):
    """A suite file's base: is found from the suite file's folder, its model files from the current
    directory: a model file beside the suite file is named with the model.name that finds it."""
    import yaml

    from conftest import tiny_suite

    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "mine.py").write_text(_NET)
    spec = tmp_path / "exp" / "s.yaml"
    spec.write_text(
        yaml.safe_dump(tiny_suite(name="s", runs={"mine": {"model.name": "mine.py:Net"}}))
    )
    code, text = cli(capsys, "suite", spec, "--out", tmp_path / "out", "-q", "--no-report")
    assert code == 2, text
    assert "It is beside the suite file: model.name=exp/mine.py:Net" in one_line(text)
    code, text = cli(capsys, "suite", spec, "--out", tmp_path / "out", "-q", "--no-report",
                     "--set", "model.name=exp/mine.py:Net")  # fmt: skip
    assert code == 0, text


def test_the_papers_epoch_table_has_the_test_columns_of_a_run_that_tracked_test(tmp_path):
    """train.track_test scores the test split each epoch for the reports' train-vs-test curves: the
    paper's per-epoch table shows those columns too (and none for a run that did not track it)."""
    from conftest import TINY_DIGITS
    from vislab.paper_folder.epochs import epoch_table

    tracked = vislab.train(out=tmp_path / "t", **dict(TINY_DIGITS, train__track_test=True))
    table = epoch_table("t", tracked.history.to_dict("records"), 1)
    assert "val PACC & test loss & test ACC & learning rate" in table, table
    plain = vislab.train(out=tmp_path / "p", **TINY_DIGITS)
    assert "test loss" not in epoch_table("p", plain.history.to_dict("records"), 1)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (
            "augment.hflip=0.5",
            "augment.hflip is a section of settings (p), set one by one, e.g. augment.hflip.p=0.5.",
        ),
        ("data.normalize=ZCA", "Did you mean 'zca'?"),
        ("optim.name=AdamW", "Did you mean 'adamw'?"),
        ("schedule.name=ExponentialLR", "Did you mean 'exponential'?"),
        ("schedule.name=CosineAnnealingLR", "Did you mean 'cosine'?"),
        ("schedule.name=ReduceLROnPlateau", "Did you mean 'plateau'?"),
        ("train.patience=3", "In vislab, early stopping's patience is train.early_stop"),
        ("train.weight_decay=0.1", "Did you mean 'optim.weight_decay'?"),
        ("train.dropout=0.5", "In vislab, dropout is model.dropout"),
        ("schedule.T_max=10", "it has no T_max"),
        (
            "train.early_stop=none",
            "null turns it off: --set train.early_stop=null / train__early_stop=None",
        ),
        ("train.early_stop=0", "null turns it off"),
    ],
)
def test_the_words_a_course_or_pytorch_uses_are_pointed_to_vislabs(given, said, capsys):
    code, text = cli(capsys, "config", "show", "--set", given)
    assert code == 2 and said in one_line(text), text
    assert "?." not in text  # no doubled punctuation


@pytest.mark.parametrize(
    ("given", "unsaid"),
    [
        ("optim.name=NAdam", "Did you mean"),  # another algorithm, not adam
        ("schedule.name=CosineAnnealingWarmRestarts", "Did you mean"),
        ("augment.crop=4", "augment.crop.p=4"),  # a suggestion refused when followed
    ],
)
def test_no_hint_that_would_be_wrong_or_refused(given, unsaid, capsys):
    code, text = cli(capsys, "config", "show", "--set", given)
    assert code == 2 and unsaid not in text, text


def test_the_dlvc_suites_run_without_augmentation_gives_no_note_against_its_own_settings():
    from vislab.config.notes import config_notes
    from vislab.experiments.suites.spec import load_suite, run_config

    suite = load_suite("dlvc-compare")
    said = config_notes(run_config(suite, "resnet18-noaug", ["data.name=digits"]))
    assert not [n for n in said if "augment.crop" in n], said


@pytest.mark.parametrize(
    ("key", "value"), [("select_metric", "test_acc"), ("early_stop_metric", "test_loss")]
)
def test_choosing_on_test_is_refused_with_the_reason(key, value, capsys):
    code, text = cli(capsys, "config", "show", "--set", f"train.{key}={value}")
    said = one_line(text)
    assert code == 2 and "chosen on validation data, never on test" in said, text
    assert f"Did you mean 'val_{value[5:]}'?" in said


def test_eval_given_train_threads_says_how_to_limit_the_threads(trained, capsys):
    code, text = cli(capsys, "eval", trained, "--split", "val", "--set", "train.threads=1")
    assert code == 2 and "OMP_NUM_THREADS=1 vislab eval" in one_line(text), text


def test_compare_sorted_by_a_test_figure_says_test_is_for_reporting(trained, capsys):
    code, text = cli(capsys, "compare", trained, "--sort", "test_acc")
    assert code == 0, text
    assert "a test figure: fine for reporting" in one_line(text)
    code, text = cli(capsys, "compare", trained, "--sort", "test_time_s")
    assert code == 0 and "fine for reporting" not in text  # a time, not a score


def test_timm_resnet_given_cifar_stem_is_pointed_to_vislabs_resnet18(capsys, tmp_path):
    pytest.importorskip("timm")
    code, text = cli(
        capsys, "train", "--set", "data.name=digits", "--set", "model.name=timm:resnet18",
        "--set", "model.cifar_stem=true", "--epochs", "1", "--out", tmp_path / "r",
    )  # fmt: skip
    assert code == 2, text
    assert "model.cifar_stem is vislab's resnet18's (model.name=resnet18)" in one_line(text), text


def test_a_kept_main_tex_naming_files_of_its_own_is_not_told_they_are_gone(tmp_path):
    from vislab.paper_folder.texts import missing_targets

    (tmp_path / "sections").mkdir()
    (tmp_path / "sections" / "intro.tex").write_text("Hello.")
    (tmp_path / "logo.png").write_bytes(b"png")
    main = tmp_path / "main.tex"
    main.write_text(
        "\\input{sections/intro}\n\\includegraphics{logo}\n\\input{tables/gone_epochs}\n"
    )
    [note] = missing_targets(main)
    assert "tables/gone_epochs" in note and "intro" not in note and "logo" not in note


def test_a_legend_of_a_title_alone_outside_the_figure_is_left_where_it_is():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vislab.plotting.style import fit_to_page

    fig, ax = plt.subplots()
    ax.legend(handles=[], title="only a title " * 8, loc="upper left", bbox_to_anchor=(1, 1))
    fit_to_page(fig, 3.3)  # no IndexError
    plt.close(fig)


def test_the_per_class_table_does_not_crown_the_majority_baselines_guessed_class():
    from vislab.experiments.results.per_class import class_key, per_class_table
    from vislab.training.summary import RunSummary

    summaries = {
        "majority": RunSummary.from_json(
            {"model": "majority", "test_per_class": {"0": 0.0, "1": 1.0}}
        ),
        "cnn": RunSummary.from_json({"model": "cnn", "test_per_class": {"0": 0.9, "1": 0.95}}),
        "mlp": RunSummary.from_json({"model": "mlp", "test_per_class": {"0": 0.8, "1": 0.9}}),
    }
    table = per_class_table(summaries)
    assert table.bold == {(1, class_key(0)), (1, class_key(1))}  # cnn's, not majority's 1.0
    assert (
        "Not ranked in bold: majority, the majority baseline (one class always guessed: recall 1 "
        "there, 0 elsewhere)." in table.note
    )
