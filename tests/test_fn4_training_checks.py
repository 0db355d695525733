"""mlp-scratch's levels compared like for like (its hand-written levels step by SGD: the tables say
optim.name=sgd, lr-find's hint names it); divergence advice that works for a model making its own step;
a model returning probabilities noted; mlp-scratch's hand-written gradients tracked; huge losses in
exponent form."""

from __future__ import annotations

import json
import re
import warnings

import pytest
import torch
import torch.nn as nn

import vislab
from conftest import cli, one_line
from vislab.errors import Note, TrainingDiverged
from vislab.models.hooks import ModelHooks
from vislab.training.history import EpochRow
from vislab.training.progress import epoch_line

CIRCLES = ["data.name=circles", "data.n_samples=200", "train.threads=1", "train.figures=false"]
SCRATCH = [*CIRCLES, "model.name=mlp-scratch", "train.batch_size=10", "train.epochs=1"]


def _sets(*sets: str) -> list[str]:
    return [a for s in sets for a in ("--set", s)]


def test_scratch_hand_written_levels_compare_as_sgd_beside_impl_optim(tmp_path, capsys):
    """Was: compare showed model.impl alone differing, the optim level (Adam) bolded over the
    hand-written ones (plain SGD) as if like for like."""
    for impl in ("manual", "optim"):
        sets = _sets(*SCRATCH, f"model.impl={impl}", "optim.lr=0.03")
        code, text = cli(capsys, "train", *sets, "--out", tmp_path / impl, "-q")
        assert code == 0, text
    code, text = cli(capsys, "compare", tmp_path / "manual", tmp_path / "optim")
    header = next(line for line in text.splitlines() if line.startswith("| run"))
    rows = {
        line.split("|")[1].strip(): line for line in text.splitlines() if "| mlp-scratch" in line
    }
    assert code == 0 and "optim.name" in header, text
    column = header.split("|").index(" optim.name ")
    assert rows["manual"].split("|")[column].strip() == "sgd", text
    assert rows["optim"].split("|")[column].strip() == "adam", text


def test_lr_find_on_scratch_points_to_the_same_sgd(capsys):
    """Was: the hint named model.impl=optim alone, which sweeps Adam, not the SGD the levels step by."""
    code, text = cli(capsys, "lr-find", *_sets(*SCRATCH))
    said = one_line(text)
    assert code != 0 and "--set model.impl=optim --set optim.name=sgd" in said, text
    assert "optim__name='sgd'" in said, text


def test_scratch_divergence_advice_names_only_what_works(tmp_path, capsys):
    """Was: "Lower optim.lr (vislab lr-find suggests one), or set train.grad_clip" — grad_clip is
    refused for its own step, and lr-find refuses the model."""
    sets = _sets(*SCRATCH, "optim.lr=100", "train.epochs=2")
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "run")
    said = one_line(text)
    assert code == 0 and "the weights are blowing up" in said, text
    assert "grad_clip" not in said and "Lower optim.lr" in said, text
    # the run's model, data and batch size named
    hint = re.search(r"`vislab lr-find ([^`]*)`", said)
    assert hint and "--set model.impl=optim --set optim.name=sgd" in hint[1], text
    code, text = cli(capsys, "lr-find", *_sets(*SCRATCH), *hint[1].split(), "--steps", "10",
                     "--out", tmp_path / "lr.png")  # fmt: skip
    assert code == 0 and "suggested optim.lr" in text, text  # the hint works


class _NaNStep(ModelHooks, nn.Module):
    """A model whose own step turns its weights to NaN."""

    trained_by = "manual_step"

    def __init__(self, num_classes: int, input_shape: tuple[int, ...]):
        super().__init__()
        self.fc = nn.Linear(input_shape[0], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)

    def manual_step(self, x, y, lr):
        with torch.no_grad():
            for p in self.parameters():
                p.mul_(float("nan"))
        logits = self(x)
        return nn.functional.cross_entropy(logits, y), logits


def test_own_step_divergence_points_at_the_step_not_grad_clip(tmp_path):
    """Was: "Lower optim.lr, set train.grad_clip, or check data.normalize" for a user's manual_step."""
    with pytest.raises(TrainingDiverged) as e:
        vislab.train(model=_NaNStep, data="circles", data__n_samples=100, out=tmp_path / "run",
                     train__threads=1, train__figures=False, quiet=True)  # fmt: skip
    said = one_line(str(e.value))
    assert "grad_clip" not in said and "Lower optim.lr" in said, said
    assert "check the update its manual_step makes" in said, said


class _Softmaxed(nn.Module):
    def __init__(self, num_classes: int, input_shape: tuple[int, ...]):
        super().__init__()
        self.fc = nn.Linear(input_shape[0], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x).softmax(1)


class _Logits(_Softmaxed):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def _probability_notes(model: type[nn.Module], out) -> list[str]:
    """The notes of a tiny run of ``model`` on circles that say its outputs look like probabilities."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vislab.train(model=model, data="circles", data__n_samples=100, out=out, train__threads=1,
                     train__figures=False, quiet=True)  # fmt: skip
    said = [str(w.message) for w in caught if issubclass(w.category, Note)]
    return [s for s in said if "look like probabilities (rows sum to 1): return logits" in s]


def test_a_model_returning_probabilities_is_noted(tmp_path):
    """Was: trained silently on its softmaxed outputs, its loss and confidences wrong."""
    said = _probability_notes(_Softmaxed, tmp_path / "softmaxed")
    assert len(said) == 1 and "cross-entropy applies the softmax itself" in said[0], said
    assert "model 'test_fn4_training_checks:_Softmaxed'" in said[0], said
    assert not _probability_notes(_Logits, tmp_path / "logits")  # the fix: return the logits


def test_scratch_manual_level_leaves_its_gradients_in_grad():
    """Was: impl=manual kept its hand-written gradients to itself (.grad None), so train.track_grad_norm
    had nothing to read; now each parameter's .grad holds them, as autograd's level has its own."""
    from vislab.models.scratch import mlp_scratch

    x, y = torch.randn(6, 2, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1] * 3)
    grads = {}
    for impl in ("manual", "autograd"):
        torch.manual_seed(0)
        model = mlp_scratch((2,), 2, hidden=[4], impl=impl)
        model.manual_step(x, y, 0.1)
        grads[impl] = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads["manual"]), grads["manual"]
    for hand, auto in zip(grads["manual"], grads["autograd"]):
        torch.testing.assert_close(hand, auto)


def test_huge_losses_print_in_exponent_form():
    """Was: train loss 1983035539631916886373815025664.0000."""
    row = EpochRow(1, 1.983e30, 0.5, 0.1, seconds=0.1)
    line = epoch_line(row, 3)
    assert "train loss 1.98e+30 acc 0.5000" in line, line
    assert "train loss 0.6931" in epoch_line(EpochRow(1, 0.69314, 0.5, 0.1, seconds=0.1), 3)


# ------------------------------------------------- with patch-FN4 (training/checks.py, setup.py, trainer.py)
def _notes(tmp_path, **settings) -> str:
    """The notes of a tiny mlp-scratch run on circles with ``settings``, as one line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vislab.train(model="mlp-scratch", data="circles", data__n_samples=200, out=tmp_path,
                     train__threads=1, train__figures=False, train__batch_size=10, quiet=True,
                     **settings)  # fmt: skip
    return one_line(" ".join(str(w.message) for w in caught if issubclass(w.category, Note)))


def test_scratch_impl_optim_at_the_default_adam_says_how_to_match_the_sgd_levels(tmp_path):
    """Was: impl=optim trained with Adam silently, beside hand-written levels that step by SGD."""
    said = _notes(tmp_path / "adam", model__impl="optim", optim__lr=0.03)
    assert "trains with optim.name=adam (the default)" in said, said
    assert "step by plain SGD" in said and "--set optim.name=sgd" in said, said
    said = _notes(tmp_path / "sgd", model__impl="optim", optim__lr=0.03, optim__name="sgd")
    assert "step by plain SGD" not in said, said  # the fix silences it
    manual = _notes(tmp_path / "manual", optim__lr=0.03)  # its own step: SGD
    assert "with model.impl=optim" not in manual, manual


@pytest.mark.parametrize("impl", ["manual", "autograd"])
def test_scratch_hand_written_gradients_are_tracked(tmp_path, capsys, impl):
    """Was: "this model makes its own updates: no gradients to see", no grad_norms.jsonl."""
    sets = _sets(*SCRATCH, f"model.impl={impl}", "optim.lr=0.03", "train.track_grad_norm=true")
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "run")
    assert code == 0 and "no gradients to see" not in text, text
    rows = [json.loads(s) for s in (tmp_path / "run" / "grad_norms.jsonl").read_text().splitlines()]
    norms = rows[0]["grad_norm"]
    assert set(norms) == {"net.0 (Linear)", "net.2 (Linear)"} and all(v > 0 for v in norms.values())


class _StillStep(_NaNStep):
    """A model whose own step updates nothing and leaves no gradient in .grad."""

    def manual_step(self, x, y, lr):
        with torch.no_grad():
            logits = self(x)
        return nn.functional.cross_entropy(logits, y), logits


def test_an_own_step_that_leaves_no_gradients_is_noted_once(tmp_path):
    """A manual_step that keeps its gradients to itself: no grad_norms.jsonl, and one note saying so,
    kept in summary.json's notes_given."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = vislab.train(model=_StillStep, data="circles", data__n_samples=100, out=tmp_path / "run",
                           train__threads=1, train__figures=False, train__epochs=2,
                           train__track_grad_norm=True, quiet=True)  # fmt: skip
    said = [str(w.message) for w in seen if "no gradients to see" in str(w.message)]
    assert len(said) == 1 and "p.grad = g" in said[0], said
    assert all(w.category is Note for w in seen if "no gradients to see" in str(w.message))
    kept = json.loads((run.path / "summary.json").read_text())["notes_given"]
    assert said[0] in kept, kept
    assert not (run.path / "grad_norms.jsonl").exists()
