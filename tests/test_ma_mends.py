"""Mends of reviewer R1's findings in the training changes: init.init_from kept by a resume of checkpoints
older than their record of it; class weights whose scale is no learning rate with mixup; the imbalance
corrected twice noted; data.limit named where it emptied a class that balanced weights need; arrays as
class weights; mlp-scratch's lr-find advice that works as printed; a last.pt older than best_loss."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import vislab
from conftest import cli, one_line
from vislab.errors import ConfigError, Note
from vislab.training.checkpoint import load_checkpoint

QUIET = dict(train__figures=False, train__device="cpu", train__threads=1, quiet=True)


def _images(n: int = 48, rare: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``n`` 8×8 grey images, the last ``rare`` of class 'b', the others of 'a'."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n - rare, int), np.ones(rare, int)]
    return rng.integers(0, 256, (n, 8, 8), dtype=np.uint8), y, ["a", "b"]


def _summary(run) -> dict:
    return json.loads((run / "summary.json").read_text())


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")
def test_a_resume_of_checkpoints_older_than_their_init_record_keeps_init_from(tmp_path):
    """Before: a run folder whose last.pt/best.pt were written before checkpoints recorded train.init_from
    lost summary.json's init.init_from on its resume."""
    kw = dict(data=_images(), model="mlp", model__hidden=[8], train__batch_size=16, **QUIET)
    source = vislab.train(train__epochs=1, out=tmp_path / "source", **kw)
    tuned = tmp_path / "tuned"
    vislab.train(train__epochs=1, train__init_from=str(source.path), out=tuned, **kw)
    first = _summary(tuned)["init"]["init_from"]
    assert first["source"] == str(source.path)
    for name in ("last.pt", "best.pt"):  # as written before the record
        path = tuned / "checkpoints" / name
        saved = torch.load(path, weights_only=False)
        saved.pop("init_from")
        torch.save(saved, path)
    vislab.train(out=tuned, resume=True, epochs=2)
    assert _summary(tuned)["init"]["init_from"] == first
    # and its new checkpoints keep it: a later resume no longer needs summary.json
    assert load_checkpoint(tuned / "checkpoints" / "last.pt").record.init_from == first


def test_soft_targets_take_the_weighted_mean_that_hard_labels_do():
    """torch's cross_entropy(weight=) divides soft targets' sum by N, hard labels' by their weights: a
    one-hot soft target now gives torch's hard-label loss (label smoothing too), at any weights' scale."""
    # new: imported here, so that the other tests run on the old code
    from vislab.training.class_weights import soft_cross_entropy

    torch.manual_seed(0)
    logits, y = torch.randn(7, 4), torch.randint(0, 4, (7,))
    weight = torch.rand(4) + 0.1
    for smoothing in (0.0, 0.2):
        hard = F.cross_entropy(logits, y, weight=weight, label_smoothing=smoothing)
        soft = soft_cross_entropy(logits, F.one_hot(y, 4).float(), weight, smoothing)
        assert soft.item() == pytest.approx(hard.item(), rel=1e-5)
    mixed = torch.softmax(torch.randn(7, 4), 1)
    loss = soft_cross_entropy(logits, mixed, weight, 0.1)
    assert soft_cross_entropy(logits, mixed, 10 * weight, 0.1).item() == pytest.approx(loss.item())
    assert soft_cross_entropy(logits, mixed, torch.ones(4), 0.1).item() == pytest.approx(
        soft_cross_entropy(logits, mixed, None, 0.1).item()
    )


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")
def test_with_mixup_the_class_weights_scale_is_no_learning_rate(tmp_path):
    """Before: with mixup, class weights [1, 10] trained 10× harder than [0.1, 1] (train loss 1.80 vs
    0.18); without it, the two were the same run."""
    kw = dict(data=_images(), model="mlp", model__hidden=[8], train__batch_size=8, train__epochs=1)
    kw.update(optim__name="sgd", optim__lr=0.05, augment__mixup__p=1.0, train__seed=0, **QUIET)
    losses = [
        vislab.train(out=tmp_path / str(w[0]), train__class_weights=w, **kw).summary["train_loss"]
        for w in ([1.0, 10.0], [0.1, 1.0])
    ]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_balanced_sampler_and_balanced_weights_together_are_noted(tmp_path):
    kw = dict(data=_images(), model="mlp", model__hidden=[8], train__batch_size=8, train__epochs=1)
    with pytest.warns(Note) as notes:
        vislab.train(
            out=tmp_path / "run", train__sampler="balanced", train__class_weights="balanced", **kw,
            **QUIET,
        )  # fmt: skip
    said = [str(n.message) for n in notes if "correct the class imbalance" in str(n.message)]
    assert len(said) == 1 and "train__class_weights=None" in said[0], said


def test_balanced_weights_name_data_limit_where_it_emptied_a_class(tmp_path):
    """Before: "add images of them to the train split" — the split held some; data.limit drew none."""
    x, y, names = _images(n=63, rare=3)
    kw = dict(data=(x, y, names), model="mlp", model__hidden=[8], train__batch_size=2)
    kw.update(train__epochs=1, train__class_weights="balanced", **QUIET)
    with pytest.raises(ConfigError) as e:
        vislab.train(out=tmp_path / "cut", data__limit=8, **kw)
    said = one_line(str(e.value))
    assert "data.limit=8" in said and "drew none of it" in said, said
    assert "add images" not in said
    fix = re.search(r"data__limit=None, data__limit_per_class=(\d+)", said)
    assert fix, said  # the fix, in Python's words, works
    run = vislab.train(
        out=tmp_path / "fixed", data__limit=None, data__limit_per_class=int(fix[1]), **kw
    )
    assert run.summary["status"] == "complete"


@pytest.mark.filterwarnings("ignore::vislab.errors.Note")
def test_class_weights_from_numpy_or_torch_are_taken(tmp_path):
    """Before: numpy's "truth value of an array is ambiguous" (sklearn's compute_class_weight gives one)."""
    kw = dict(data=_images(), model="mlp", model__hidden=[8], train__batch_size=8, train__epochs=1)
    for weights in (np.array([1.0, 2.0]), torch.tensor([1.0, 2.0])):
        run = vislab.train(
            out=tmp_path / type(weights).__name__, train__class_weights=weights, **kw, **QUIET
        )
        assert run.summary["class_weights"] == [1.0, 2.0]


def test_scratch_divergence_advice_runs_as_printed(tmp_path, capsys):
    """Before: `vislab lr-find --set model.impl=optim --set optim.name=sgd` — lr-find's default model
    has no model.impl, so the command failed as written."""
    sets = ["data.name=circles", "data.n_samples=200", "train.threads=1", "train.figures=false"]
    sets += ["model.name=mlp-scratch", "train.batch_size=10", "optim.lr=100", "train.epochs=2"]
    code, text = cli(
        capsys, "train", *[a for s in sets for a in ("--set", s)], "--out", tmp_path / "run"
    )
    said = one_line(text)
    assert code == 0 and "the weights are blowing up" in said, text
    command = re.search(r"`vislab (lr-find [^`]*)`", said)
    assert command and "model.name=mlp-scratch" in command[1], said
    code, text = cli(capsys, *command[1].split(), "--steps", "10", "--out", tmp_path / "lr.png")
    assert code == 0 and "suggested optim.lr" in text, text


def _three_shades(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """3 classes of 8×8 grey images by brightness: the MLP below ties on val_pacc from epoch 2 on while
    its val_loss keeps falling (tests/test_fi2_metrics.py)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    return (rng.integers(0, 40, (n, 8, 8)) + 100 * y[:, None, None]).astype(np.uint8), y


def test_a_last_pt_older_than_best_loss_breaks_a_tie_as_a_new_one(tmp_path):
    """Before: best_loss None kept best.pt at the first epoch of a tie, which the patience counted as
    beaten by the lower val_loss."""
    kw = dict(data=_three_shades(), model="mlp", model__hidden=[16], train__batch_size=16)
    kw.update(train__seed=0, **QUIET)
    run = tmp_path / "run"
    vislab.train(out=run, train__epochs=3, **kw)
    last = run / "checkpoints" / "last.pt"
    saved = torch.load(last, weights_only=False)
    saved["state"].pop("best_loss")  # as written before LoopState.best_loss
    torch.save(saved, last)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        vislab.train(out=run, resume=True, epochs=5)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    top = max(r["val_pacc"] for r in rows)
    tied = [r for r in rows if r["val_pacc"] == top]
    lowest = min(tied, key=lambda r: r["val_loss"])
    assert len(tied) >= 2 and lowest["epoch"] > 3  # the case: a tie broken after the resume
    assert _summary(run)["best_epoch"] == lowest["epoch"]
    assert load_checkpoint(run / "checkpoints" / "best.pt").epoch == lowest["epoch"]
