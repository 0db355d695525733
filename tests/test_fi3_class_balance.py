"""``train.class_weights`` for imbalanced data (10:1): balanced weights as sklearn computes them, the
training loss torch's weighted cross-entropy (with label smoothing, and mixup's soft targets), the run
predicting the rare class more often, the weights in summary.json and kept by a resume; the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

import vislab
from conftest import one_line, tiny_config
from vislab.errors import ConfigError
from vislab.training.parts import build_optimisation, build_parts
from vislab.training.runtime import Distributed
from vislab.training.trainer import train_step

CPU = torch.device("cpu")
NAMES = ["common", "rare"]
RUN = dict(
    model__name="mlp", model__hidden=[8], train__batch_size=16, train__device="cpu",
    train__figures=False, train__seed=0, optim__lr=0.01,
)  # fmt: skip


def imbalanced(n_rare: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """2-D points of two overlapping classes, 10 common to 1 rare (the rare one shifted by (1.5, 1))."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.r_[np.zeros(10 * n_rare, int), np.ones(n_rare, int)])
    x = rng.normal(0, 1, (len(y), 2)) + np.c_[1.5 * y, 1.0 * y]
    return x.astype(np.float32), y, NAMES


def rare_predicted(run: vislab.Run) -> int:
    """How many test points the run's best weights call rare (its predictions_test.npz)."""
    with np.load(run.path / "predictions_test.npz") as saved:
        return int((saved["probs"].argmax(1) == 1).sum())


def test_balanced_weights_are_sklearns_on_the_train_split_and_the_loss_is_torchs_weighted_one():
    """balanced: n_train / (n_classes × count) of the train split the run trains on, as sklearn's
    compute_class_weight("balanced"); a training step's loss is F.cross_entropy(weight=) with the
    smoothing on class indices, and on mixup's soft targets the same weighted mean (torch's own divides
    those by N: the weights' scale would be a learning rate)."""
    cfg = tiny_config("train.class_weights=balanced", "train.label_smoothing=0.1", "data.limit=120")
    data, network = build_parts(cfg, CPU, Distributed())
    y_train = data.splits.train.y
    want = compute_class_weight("balanced", classes=np.arange(10), y=y_train)
    assert data.class_weights == pytest.approx(want.tolist())
    optim = build_optimisation(cfg, network, CPU, len(data.train), class_weights=data.class_weights)
    x, y = data.train.batch(torch.arange(32), augment=False)
    soft = torch.eye(10)[y].roll(1, 0) * 0.3 + torch.eye(10)[y] * 0.7  # as mixup's targets
    weight = torch.tensor(want, dtype=torch.float32)
    for target in (y, soft):
        with torch.no_grad():
            logits = network.model(x)
        expected = F.cross_entropy(logits, target, weight=weight, label_smoothing=0.1)
        if target.ndim == 2:  # Σ smoothed·w·(−log p) / Σ target·w, as torch's of one-hot rows
            smoothed = target * 0.9 + 0.1 / 10
            expected = -(smoothed * weight * logits.log_softmax(1)).sum() / (target * weight).sum()
        loss, _ = train_step(network, optim, x, target, lr=0.0)
        assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
        assert loss.item() != pytest.approx(
            F.cross_entropy(logits, target, label_smoothing=0.1).item()
        )


def test_balanced_weights_or_sampler_predict_the_rare_class_more_often(tmp_path):
    """A user's check on 10:1 data: the run with balanced weights, and the one with the balanced sampler,
    call more test points rare than the plain one; summary.json says the weights used (the plain run's
    and the sampled run's none)."""
    data = imbalanced()
    plain = vislab.train(data=data, out=tmp_path / "plain", train__epochs=3, **RUN)
    weighted = vislab.train(
        data=data, out=tmp_path / "bal", train__epochs=3, train__class_weights="balanced", **RUN
    )
    sampled = vislab.train(
        data=data, out=tmp_path / "smp", train__epochs=3, train__sampler="balanced", **RUN
    )
    assert rare_predicted(weighted) > rare_predicted(plain)
    assert rare_predicted(sampled) > rare_predicted(plain)
    assert "class_weights" not in sampled.summary
    assert "class_weights" not in plain.summary
    common, rare = weighted.summary["class_weights"]
    assert rare / common == pytest.approx(10, rel=0.3) and common < 1 < rare


@pytest.mark.parametrize(
    "setting", [{"train__class_weights": [1.0, 4.0]}, {"train__sampler": "balanced"}]
)
def test_a_resumed_run_trains_on_with_its_class_weights_or_sampler(tmp_path, setting):
    """2 epochs, then resumed to 3: the same metrics (and weights) as 3 epochs in one go."""
    data = imbalanced(20)
    whole = vislab.train(data=data, out=tmp_path / "whole", train__epochs=3, **setting, **RUN)
    part = vislab.train(data=data, out=tmp_path / "part", train__epochs=2, **setting, **RUN)
    resumed = vislab.train(out=part.path, resume=True, epochs=3)
    assert resumed.summary.get("class_weights") == whole.summary.get("class_weights")
    assert resumed.summary["train_loss"] == pytest.approx(whole.summary["train_loss"], rel=1e-6)
    key, value = next(iter(setting.items()))
    assert getattr(resumed.config.train, key.split("__")[1]) == value


def test_the_balanced_sampler_draws_each_class_equally_often_with_replacement():
    """train.sampler=balanced on 10:1 data: an epoch as long as the split, about half of it the rare
    class (its images repeated), the same order when drawn again (a resume), another the next epoch."""
    name = vislab.register_arrays(*imbalanced())
    cfg = vislab.load_config(data__name=name, train__sampler="balanced", **RUN)
    data, _ = build_parts(cfg, CPU, Distributed())
    train = data.train
    order = train.order(0)
    assert len(order) == len(data.splits.train.y)
    rare = (train.y[order] == 1).float().mean().item()
    assert 0.4 < rare < 0.6
    assert len(order.unique()) < len(order)  # drawn with replacement
    assert torch.equal(order, train.order(0)) and not torch.equal(order, train.order(1))
    assert len(list(train.epoch(0))) == len(train)  # the epoch's batches unchanged in number


def test_class_weights_of_another_length_or_a_class_without_train_images_are_refused(tmp_path):
    """One weight per class, checked when the data is loaded: the error names both counts and the
    classes; balanced with a class the train split has no images of names it. The fix given works."""
    data = imbalanced(20)
    with pytest.raises(ConfigError) as e:
        vislab.train(data=data, out=tmp_path / "n", train__class_weights=[1, 2, 3], **RUN)
    text = one_line(str(e.value))
    assert "gives 3 weights but the data has 2 classes ('common', 'rare')" in text, text
    assert "train__class_weights=[1, 1]" in text
    run = vislab.train(data=data, out=tmp_path / "n", train__class_weights=[1, 1], **RUN)
    assert run.summary["class_weights"] == [1.0, 1.0]
    x, y, names = data
    three = (x, y, [*names, "unseen"])  # a class the labels never use
    with pytest.raises(ConfigError) as e:
        vislab.train(data=three, out=tmp_path / "z", train__class_weights="balanced", **RUN)
    text = one_line(str(e.value))
    assert "the train split holds no images of 'unseen'" in text, text
    with pytest.raises(ConfigError, match="balanced, a list of one weight per class or null"):
        vislab.load_config(train__class_weights="balance")
    with pytest.raises(ConfigError, match="finite number > 0"):
        vislab.load_config(train__class_weights=[1, 0])


def test_a_model_fitted_once_says_it_does_not_read_class_weights(tmp_path):
    """majority has no loss: the run trains, records no weights, and config.yaml names the setting unused."""
    run = vislab.train(
        data=imbalanced(20), out=tmp_path / "maj", train__class_weights="balanced",
        **{k: v for k, v in RUN.items() if not k.startswith("model")}, model__name="majority",
    )  # fmt: skip
    assert "class_weights" not in run.summary
    unused = next(
        line
        for line in (run.path / "config.yaml").read_text().splitlines()
        if line.startswith("train:")
    )
    assert "train.class_weights" in unused


def test_a_model_that_steps_by_hand_refuses_class_weights(tmp_path):
    """mlp-scratch's plain SGD step computes its own loss: train.class_weights would change nothing, so
    the run is refused naming it and what plain SGD amounts to (null); leaving it out trains."""
    over = {**RUN, "model__name": "mlp-scratch", "optim__name": "sgd"}
    with pytest.raises(ConfigError) as e:
        vislab.train(
            data=imbalanced(20), out=tmp_path / "s", train__class_weights="balanced", **over
        )
    text = one_line(str(e.value))
    assert "train.class_weights=balanced" in text and "train.class_weights=null" in text, text
    assert (
        vislab.train(data=imbalanced(20), out=tmp_path / "s", **over).summary["status"]
        == "complete"
    )
