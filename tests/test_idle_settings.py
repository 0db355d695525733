"""Settings that do nothing given the others (config/notes.py ``READS``): each gets a ``note:`` line at the
run's start, and makes no column in the comparison tables — one declaration for both. And a beta that
torch's Adam refuses is a config error naming it, before any run folder is made."""

from __future__ import annotations

import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line, table_run, tiny_sets
from vislab.config import build_config, config_notes
from vislab.errors import ConfigError

FIGURES_OFF = "train.figures=false"


def notes(text: str) -> list[str]:
    return [one_line(line) for line in text.splitlines() if line.startswith("note: ")]


# (settings that do nothing, the note the run prints, the nearest settings that do something: no note)
IDLE = {
    "momentum-with-adam": (
        ["optim.momentum=0.9", "optim.nesterov=true"],
        "note: optim.momentum=0.9 and optim.nesterov=true do nothing with optim.name=adam: only the "
        "sgd optimizer reads them.",
        ["optim.name=sgd", "optim.momentum=0.9", "optim.nesterov=true"],
    ),
    "nesterov-with-adamw": (
        ["optim.name=adamw", "optim.weight_decay=0.01", "optim.nesterov=true"],
        "note: optim.nesterov=true does nothing with optim.name=adamw: only the sgd optimizer reads it.",
        ["optim.name=adamw", "optim.weight_decay=0.01", "optim.betas=[0.8, 0.99]"],
    ),
    "nesterov-without-momentum": (
        ["optim.name=sgd", "optim.nesterov=true"],
        "note: optim.nesterov=true does nothing with optim.momentum=0:",
        ["optim.name=sgd", "optim.momentum=0.5", "optim.nesterov=true"],
    ),
    "betas-with-sgd": (
        ["optim.name=sgd", "optim.betas=[0.5, 0.9]"],
        "note: optim.betas=[0.5, 0.9] does nothing with optim.name=sgd: only the adam and adamw "
        "optimizers read it.",
        ["optim.name=adam", "optim.betas=[0.5, 0.9]"],
    ),
    "step-longer-than-the-run": (
        ["schedule.name=step", "schedule.step_size=3", "train.epochs=2"],
        "note: schedule.name=step and schedule.step_size=3 do nothing with schedule.step_size=3 ≥ "
        "train.epochs=2: the step schedule first lowers the lr after step_size epochs, so the lr "
        "stays at optim.lr, as with schedule.name=none.",
        ["schedule.name=step", "schedule.step_size=1", "train.epochs=2"],
    ),
    "cosine-floor-at-the-lr": (
        ["schedule.name=cosine", "schedule.min_lr=0.01", "optim.lr=0.01"],
        "note: schedule.name=cosine and schedule.min_lr=0.01 do nothing with schedule.min_lr=0.01 ≥ "
        "optim.lr=0.01:",
        ["schedule.name=cosine", "schedule.min_lr=0.001", "optim.lr=0.01"],
    ),
    "augment-p-0": (
        ["augment.p=0", "augment.crop.p=1", "augment.hflip.p=0.5"],
        "note: augment.crop.p=1 and augment.hflip.p=0.5 do nothing with augment.p=0: augment.p is "
        "the chance that an image is augmented at all, so none is",
        ["augment.p=0.5", "augment.crop.p=1", "augment.hflip.p=0.5"],
    ),
    "adamw-without-decay": (
        ["optim.name=adamw"],
        "note: optim.name=adamw with optim.weight_decay=0 is Adam:",
        ["optim.name=adamw", "optim.weight_decay=0.01"],
    ),
}


@pytest.mark.parametrize("case", IDLE)
def test_a_setting_that_does_nothing_is_noted_at_the_run_start(capsys, tmp_path, case):
    """``vislab train`` prints the note before the first epoch and trains; the settings beside it that do
    something print none."""
    idle, note, read = IDLE[case]
    code, text = cli(capsys, "train", "--out", tmp_path / "r", *tiny_sets(FIGURES_OFF, *idle))
    assert code == 0, text
    (said,) = notes(text)
    assert said.startswith(note), said
    assert text.index("note: ") < text.index("epoch 1/")
    assert config_notes(build_config({}, read)) == []


def test_augment_p_0_on_feature_vectors_is_one_note_not_two(capsys, tmp_path):
    """An augmentation that augment.p=0 turns off is not also said to be asked of feature vectors."""
    over = ["data.name=circles", "data.n_samples=200", "model.name=mlp", "train.epochs=1"]
    over += ["train.device=cpu", FIGURES_OFF, "augment.p=0", "augment.hflip.p=0.5"]
    over += ["train.batch_size=60"]  # its 180 train points: no partial batch dropped, no note of it
    code, text = cli(
        capsys, "train", "--out", tmp_path / "r", *[x for s in over for x in ("--set", s)]
    )
    assert code == 0, text
    assert notes(text) == [
        "note: augment.hflip.p=0.5 does nothing with augment.p=0: augment.p is the chance that an image "
        "is augmented at all, so none is (mixup and cutmix have their own p)."
    ]


# ------------------------------------------------------------------------------ the comparison tables


def test_compare_of_adam_with_and_without_momentum_shows_no_momentum(tmp_path):
    """The user's case: adam with optim.momentum=0.9, nesterov=true trains exactly as plain adam; the
    table says nothing differs (before: optim.momentum 0.9 / 0.0 and optim.nesterov true / false)."""
    a = vislab.train(out=tmp_path / "plain", **TINY_DIGITS)
    b = vislab.train(
        out=tmp_path / "momentum", optim__momentum=0.9, optim__nesterov=True, **TINY_DIGITS
    )
    table = vislab.compare([a.path, b.path])
    assert list(table.columns[:5]) == ["run", "model", "seed", "test_set", "train_acc"]
    assert table["test_loss"].tolist()[0] == table["test_loss"].tolist()[1]


# the settings of IDLE's runs that do something: a run with them alone trains as the run with all
KEPT = ("optim.name", "optim.weight_decay", "optim.lr", "train.epochs")


@pytest.mark.parametrize("case", [c for c in IDLE if c != "adamw-without-decay"])
def test_a_setting_that_does_nothing_makes_no_column(tmp_path, case):
    """Two runs, one with the settings that do nothing and one without them: no setting column. (adamw
    at weight_decay 0 is Adam, but its name says which optimizer the run asked for: it keeps its
    column.)"""
    idle, _, _ = IDLE[case]
    a = table_run(tmp_path, "a", *[s for s in idle if s.split("=")[0] in KEPT])
    b = table_run(tmp_path, "b", *idle)
    table = vislab.compare([a, b])
    assert [c for c in table.columns if "." in c] == [], list(table.columns)


def test_a_schedule_that_never_moves_the_lr_differs_from_one_that_does(tmp_path):
    """A step schedule longer than the run is compared as no schedule: no column beside a run without
    one, but a column beside a cosine run, showing each run's own schedule.name."""
    inert = ("schedule.name=step", "train.epochs=5")
    none = table_run(tmp_path, "none", "train.epochs=5")
    step = table_run(tmp_path, "step", *inert)
    cosine = table_run(tmp_path, "cosine", "schedule.name=cosine", "train.epochs=5")
    assert "schedule.name" not in vislab.compare([none, step]).columns
    table = vislab.compare([step, cosine])
    assert table["schedule.name"].tolist() == ["step", "cosine"]


# ------------------------------------------------------------------------------------ optim bounds
@pytest.mark.parametrize(
    "betas, key, value", [("[1.5,0.9]", "optim.betas.0", "1.5"), ("[0.9,1]", "optim.betas.1", "1")]
)
def test_a_beta_outside_0_1_is_a_config_error_naming_it(capsys, tmp_path, betas, key, value):
    """torch's Adam refuses a beta outside [0, 1): the config says so (exit 2) before a run folder is made
    (before: a ValueError traceback, exit 1, and a folder with only config.yaml)."""
    out = tmp_path / "r"
    code, text = cli(capsys, "train", "--out", out, *tiny_sets(f"optim.betas={betas}"))
    assert code == 2, text
    assert f"config value '{key}' = {value} is invalid: Input should be less than 1" in one_line(
        text
    )
    assert not out.exists()
    with pytest.raises(ConfigError, match=r"optim\.betas\.1.*greater than or equal to 0"):
        vislab.train(out=tmp_path / "api", optim__betas=[0.9, -0.1], **TINY_DIGITS)
    assert not (tmp_path / "api").exists()
