"""Settings that would do nothing: refused where they change nothing for the model (mlp-scratch's own SGD
step), a ``note:`` line at the run's start where they are harmless (a schedule key its schedule does not
read, a warm-up as long as the run, augmenting feature vectors) — and a clean config prints no note."""

from __future__ import annotations

import pytest

from conftest import cli, one_line, tiny_config
from vislab.config import build_config
from vislab.errors import ConfigError, Note
from vislab.training.trainer import train

# mlp-scratch on a small circles set, one epoch
SCRATCH = (
    "data.name=circles",
    "data.n_samples=200",
    "model.name=mlp-scratch",
    "train.epochs=1",
    "train.batch_size=10",
    "train.device=cpu",
    "train.figures=false",
)


def sets(*assignments: str) -> list[str]:
    return [x for a in assignments for x in ("--set", a)]


def notes(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("note: ")]


# ------------------------------------------------------------------ 1. mlp-scratch's own SGD step
@pytest.mark.parametrize(
    "setting, fix",
    [
        ("train.label_smoothing=0.5", "train.label_smoothing=0"),
        ("train.grad_clip=0.001", "train.grad_clip=null"),
        ("train.accumulate=4", "train.accumulate=1"),
        ("optim.momentum=0.9", "optim.momentum=0"),
        ("optim.weight_decay=0.0005", "optim.weight_decay=0"),
        ("optim.name=adamw", "optim.name=sgd"),
    ],
)
def test_mlp_scratch_refuses_a_setting_its_hand_written_sgd_ignores(capsys, tmp_path, setting, fix):
    """mlp-scratch updates its weights by plain SGD at optim.lr: a setting that would change nothing is a
    ConfigError (exit 2) naming it, what plain SGD does, and model.impl=optim, where it applies."""
    code, text = cli(capsys, "train", "--out", tmp_path / "r", *sets(*SCRATCH, setting))
    flat = one_line(text)
    assert code == 2, text
    assert "mlp-scratch updates its weights by hand: plain SGD at optim.lr" in flat, text
    assert "vislab.models.scratch" in flat and setting in flat and fix in flat
    assert "--set model.impl=optim" in flat
    assert not (tmp_path / "r" / "config.yaml").exists()


def test_mlp_scratch_at_the_default_optimizer_runs_with_a_note_suggesting_an_lr(capsys, tmp_path):
    """The plain command (optim.name left at adam, optim.lr at Adam's 1e-3) trains, and says at its start
    that adam is not used and what learning rate RDFIA 1-ab uses; an explicit sgd at 0.03 says nothing."""
    code, text = cli(capsys, "train", "--out", tmp_path / "default", *sets(*SCRATCH))
    assert code == 0, text
    (note,) = notes(text)
    assert "plain SGD at optim.lr" in note and "optim.name=adam (the default) is not used" in note
    assert "optim.lr=0.03" in note and "mlp-basics" in note
    assert text.index(note) < text.index("epoch 1/1")
    explicit = sets(*SCRATCH, "optim.name=sgd", "optim.lr=0.03")
    code, text = cli(capsys, "train", "--out", tmp_path / "sgd", *explicit)
    assert code == 0 and notes(text) == [], text


def test_a_whole_dump_of_a_config_is_not_refused_for_the_default_optimizer(capsys, tmp_path):
    """A suite hands its runs to workers as whole dumps (every key named): optim.name=adam there is the
    default — a note, not an error; a value away from its default is still refused."""
    dumped = build_config(tiny_config(*SCRATCH, "data.limit=null").to_dict())
    with pytest.warns(Note) as caught:
        train(dumped, tmp_path / "r", quiet=False)
    (note,) = [str(w.message) for w in caught if issubclass(w.category, Note)]
    assert "optim.name=adam (the default) is not used" in note
    with pytest.raises(ConfigError, match="optim.momentum=0.9"):
        train(build_config(dumped.to_dict(), ["optim.momentum=0.9"]), tmp_path / "m", quiet=True)


def test_lr_find_announces_its_test_only_once_the_model_is_trained_by_the_optimizer():
    """``lr_find(on_start=...)``: the header's moment comes after the model is known to be trained by
    optim.name — never for mlp-scratch's own SGD (refused first), once for an optimizer-trained MLP."""
    from vislab.errors import UserError
    from vislab.training.lr_find import lr_find
    from vislab.training.lr_finding import RangeTest

    started: list[str] = []
    scratch = tiny_config("model.name=mlp-scratch", "model.impl=manual")
    with pytest.raises(UserError, match=r"updates its own weights \(its manual_step\)"):
        lr_find(scratch, RangeTest(steps=10), on_start=lambda: started.append("scratch"))
    lr_find(tiny_config(), RangeTest(steps=10), on_start=lambda: started.append("mlp"))
    assert started == ["mlp"]


# ------------------------------------------------------------------------------- 3. the notes
@pytest.mark.parametrize(
    "assignments, fragment",
    [
        (["schedule.warmup_epochs=3", "train.epochs=2"], "the whole run is warm-up"),
        (
            ["schedule.warmup_epochs=2", "train.epochs=2", "schedule.name=cosine"],
            "cosine never starts",
        ),
        (["schedule.gamma=0.5"], "schedule.gamma=0.5 does nothing with schedule.name=none"),
        (["schedule.name=exponential", "schedule.step_size=3"], "only the step schedule reads it"),
        (
            ["schedule.name=step", "schedule.step_size=3", "schedule.min_lr=0.0001"],
            "only the cosine and plateau schedules read it",
        ),
        (
            ["schedule.name=cosine", "schedule.gamma=0.9"],
            "only the exponential and step schedules",
        ),
    ],
)
def test_each_setting_another_defeats_gets_one_note(assignments, fragment):
    from vislab.config import config_notes

    (note,) = config_notes(build_config({}, assignments))
    assert fragment in note, note


def test_the_notes_are_printed_at_the_run_start_and_a_clean_run_prints_none(capsys, tmp_path):
    """A one-epoch check of a warm-up config runs, its notes before the first epoch: the warm-up, and the
    flips asked of circles' 2-D feature vectors (augmentation is for images); a clean config: none."""
    over = ("data.name=circles", "data.n_samples=200", "model.name=mlp", "train.device=cpu")
    over = (*over, "train.figures=false", "train.batch_size=60")  # 180 train points: none dropped
    odd = (
        *over,
        "schedule.warmup_epochs=2",
        "augment.hflip.p=0.5",
        "augment.randaugment.num_ops=2",
    )
    code, text = cli(capsys, "train", "--out", tmp_path / "odd", *sets(*odd), "--epochs", "1")
    assert code == 0, text
    warm, augment = notes(text)
    assert "schedule.warmup_epochs=2 ≥ train.epochs=1" in warm
    assert augment.startswith("note: augment.hflip.p, augment.randaugment.num_ops: augmentation")
    assert "2-D feature vectors: nothing is augmented" in augment
    assert text.index(augment) < text.index("epoch 1/1")
    clean = (*over, "schedule.name=step", "schedule.gamma=0.5", "schedule.step_size=1")
    clean = (*clean, "augment.hflip.p=0")
    code, text = cli(capsys, "train", "--out", tmp_path / "clean", *sets(*clean), "--epochs", "2")
    assert code == 0 and notes(text) == [], text
