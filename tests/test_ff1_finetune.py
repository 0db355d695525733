"""Transfer learning as a student does it: ``train.init_from`` a run of other classes re-initialises the
head (``train.init_head``), says so in a Note and in summary.json; ``train.freeze`` says what it froze and
what trains (the Note, ``trainable_params``, ``vislab model info`` of the run); ``optim.head_lr`` on a
frozen head is refused; a first conv of other colours is adapted; messages name the setting and the fix."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

import vislab
from conftest import cli
from vislab.errors import Note, UserError
from vislab.models.hooks import ModelHooks
from vislab.training.checkpoint import load_checkpoint

DIGITS = [str(i) for i in range(4)]
CLOTHES = ["tshirt", "trouser", "pullover", "dress"]


class Net(nn.Module):
    """A backbone (conv, batch norm, pool) and a two-layer head, for images of any channels."""

    def __init__(self, num_classes: int, input_shape: tuple[int, ...] = (1, 8, 8)):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(input_shape[0], 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


class HookedNet(Net, ModelHooks):
    """Net naming its whole head in a head_modules() hook."""

    def head_modules(self) -> list[str]:
        return ["head"]


def _images(channels: int = 1, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    shape = (n, 8, 8) if channels == 1 else (n, 8, 8, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8), np.arange(n) % 4


def _train(out, names=DIGITS, channels=1, model=Net, **settings):
    """A 1-epoch run into ``out``; (the run, the messages of the Notes it warned)."""
    x, y = _images(channels)
    kw = dict(train__epochs=1, train__batch_size=16, train__figures=False, train__threads=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = vislab.train(model=model, data=(x, y, names), out=out, **kw, **settings)
    return run, [str(w.message) for w in caught if issubclass(w.category, Note)]


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal but for the rounding of steps at lr 1e-12."""
    return torch.allclose(a, b, rtol=0, atol=1e-9)


def _weights(run) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / "best.pt").state_dict


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A run of Net on four digit classes."""
    out = tmp_path_factory.mktemp("ff1") / "digits"
    _train(out)
    return out


def _started(tmp_path, source, names, **settings):
    """The weights a run from ``source`` starts with (its steps at lr 0 leave them, norms aside), its
    init Note and its summary."""
    run, notes = _train(
        tmp_path / "new", names, train__init_from=str(source), optim__lr=1e-12, **settings
    )
    return _weights(tmp_path / "new"), [n for n in notes if "initialised from" in n], run.summary


def test_init_from_a_run_of_other_classes_re_initialises_the_same_shaped_head(digits, tmp_path):
    """4 clothing classes from a run of 4 digits: the last Linear (same shape) is left new, not the digit
    classifier, said in the init Note (as a script sees it) and recorded in summary.json."""
    old = _weights(digits)
    weights, notes, summary = _started(tmp_path, digits, CLOTHES)
    assert _same(weights["head.0.weight"], old["head.0.weight"])
    assert not torch.allclose(weights["head.2.weight"], old["head.2.weight"])
    assert len(notes) == 1, notes
    assert "9 of 11 tensors; head re-initialised" in notes[0]
    assert (
        "classes were 0, 1, 2, 3, not this run's" in notes[0] and "train.init_head=keep" in notes[0]
    )
    record = summary["init"]["init_from"]
    assert record["loaded"] == 9 and record["tensors"] == 11 and record["source"] == str(digits)
    assert record["head"] == {"tensors": 2, "names": ["head.2.bias", "head.2.weight"]}


def test_init_head_keep_loads_it_and_the_same_classes_keep_it(digits, tmp_path):
    """train.init_head=keep loads a head for other classes; a run of the same classes keeps the head
    (auto); train.init_head=new re-initialises even that."""
    old = _weights(digits)
    weights, notes, _ = _started(tmp_path, digits, CLOTHES, train__init_head="keep")
    assert _same(weights["head.2.weight"], old["head.2.weight"])
    assert notes[0].endswith("11 of 11 tensors"), notes
    weights, notes, _ = _started(tmp_path, digits, DIGITS, overwrite=True)
    assert _same(weights["head.2.weight"], old["head.2.weight"]) and "head" not in notes[0]
    weights, notes, _ = _started(tmp_path, digits, DIGITS, overwrite=True, train__init_head="new")
    assert not torch.allclose(weights["head.2.weight"], old["head.2.weight"])
    assert "head re-initialised (train.init_head=new): head.2.bias, head.2.weight" in notes[0]


def test_freeze_says_what_it_froze_and_the_run_counts_what_trained(digits, tmp_path, capsys):
    """train.freeze: a Note with the frozen tensors and parameters and those that train; summary.json's
    trainable_params and init.freeze; `vislab model info RUN` counts trainable as the run trained."""
    run, notes = _train(
        tmp_path / "frozen", train__init_from=str(digits), train__freeze=["backbone.*"]
    )
    frozen = 4 * 9 + 4 + 4 + 4  # conv weight and bias, batch norm's weight and bias
    trains = 16 * 8 + 8 + 8 * 4 + 4
    line = f"train.freeze=[backbone.*]: froze 4 tensors ({frozen} parameters); training {trains} parameters"
    assert any(n.startswith(line) for n in notes), notes
    assert run.summary["params"] == frozen + trains and run.summary["trainable_params"] == trains
    assert run.summary["init"]["freeze"] == {
        "patterns": ["backbone.*"], "tensors": 4, "params": frozen, "held_norms": 1,
    }  # fmt: skip
    assert vislab.model_info(tmp_path / "frozen").trainable == trains
    code, text = cli(capsys, "model", "info", tmp_path / "frozen")
    assert (
        code == 0
        and f"(trainable {trains} as the run trained them, train.freeze=[backbone.*]" in text
    )


def test_head_lr_on_a_frozen_head_is_refused_naming_both_settings(tmp_path):
    """optim.head_lr with train.freeze over the whole head (head_modules() names 'head'): refused, not
    one group at optim.lr with head_lr silently unused."""
    with pytest.raises(UserError) as e:
        _train(tmp_path / "r", model=HookedNet, optim__head_lr=0.01, train__freeze=["head.*"])
    said = str(e.value)
    assert "optim.head_lr=0.01" in said and "train.freeze freezes all of it" in said
    assert "head.* (4 tensors)" in said


def test_init_from_a_grey_run_into_rgb_adapts_the_first_conv(digits, tmp_path):
    """From a grey run into RGB images: the first conv's filters repeated over the colours, divided by 3
    (the same response to a grey image), said in the Note — not re-initialised."""
    grey = _weights(digits)["backbone.0.weight"]
    weights, notes, summary = _started(tmp_path, digits, DIGITS, channels=3)
    assert torch.allclose(weights["backbone.0.weight"], grey.repeat(1, 3, 1, 1) / 3)
    assert "adapted from 1 channel to RGB" in notes[0] and "shapes differ" not in notes[0], notes
    assert summary["init"]["init_from"]["adapted"]["names"] == ["backbone.0.weight"]


def test_pretrained_conv1_thrown_away_by_the_cifar_stem_names_the_setting(tmp_path):
    """resnet18 with a weights file and the default cifar_stem: the Note saying conv1 is re-initialised
    names model.cifar_stem=false, which keeps it."""
    from vislab.models import build_model

    file = tmp_path / "in.pth"
    torch.save({"conv1.weight": torch.randn(64, 3, 7, 7), "bn1.weight": torch.ones(64)}, file)
    with pytest.warns(Note, match=r"re-initialised .*model\.cifar_stem=false keeps the pretrained"):
        build_model("resnet18", (3, 32, 32), 10, weights=str(file))


def test_messages_name_the_setting_and_a_fix_that_works(digits, tmp_path):
    """A missing train.init_from names it; a torchvision state dict points to model.weights; a freeze
    pattern given as a string or null shows the list syntax."""
    with pytest.raises(UserError, match=r"train.init_from: '\S*nope' does not exist"):
        _train(tmp_path / "a", train__init_from=str(tmp_path / "nope"))
    file = tmp_path / "in.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, file)
    with pytest.raises(UserError, match=r"--set model.weights=FILE / model__weights"):
        _train(tmp_path / "b", train__init_from=str(file))
    for value, fix in (("backbone.*", "'train.freeze=[backbone.*]'"), (None, "'train.freeze=[]'")):
        with pytest.raises(UserError, match=re.escape(f"--set {fix}")):
            _train(tmp_path / "c", train__freeze=value)
