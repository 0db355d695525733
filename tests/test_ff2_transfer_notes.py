"""Transfer learning's advice and notes: the LR range test with optim.head_lr suggests rates that hold in
training; a suite's dry run says which runs would fail for missing pretrained weights or a missing
train.init_from run; a timm model gets no note about hooks it does use; metrics.jsonl's rows carry the
head's lr; the batch-norm note leaves out statistics that start from loaded weights."""

from __future__ import annotations

import json
import re
import textwrap

import pytest
import torch
import yaml
from torch import nn

import vislab
from conftest import cli, one_line
from vislab.models.registry import MODEL_PREFIXES
from vislab.training.history import EpochRow

DIGITS = ["data.name=digits", "data.limit=200", "train.epochs=1", "train.device=cpu",
          "train.figures=false"]  # fmt: skip


def _sets(*extra: str) -> list[str]:
    return [x for s in [*DIGITS, *extra] for x in ("--set", s)]


def _train_with(text: str) -> dict[str, float]:
    """The settings of `vislab lr-find`'s "train with --set a=1 --set b=2" line."""
    line = re.search(r"train with (.*)", text).group(1)
    return {k: float(v) for k, v in re.findall(r"--set (\S+)=(\S+)", line)}


# a cnn on 8×8 digits: layers 0, 3 (convs), 7 and 9 (Linear; 9 is the head, to the classes)
CNN = ["model.name=cnn", "model.widths=[4,8]", "model.fc=[16]", "train.batch_size=16"]
FROZEN = ["0.*", "3.*", "7.*"]  # all but the head


def test_lr_find_with_head_lr_suggests_both_rates_or_the_heads_alone(capsys, tmp_path):
    """The rest of the model trains too: both rates, the head's at head_lr/lr times the lr as swept. The
    head alone trains: its own rate, the curve its lr — the same curve as without head_lr."""
    sets = _sets(*CNN, "optim.lr=0.001", "optim.head_lr=0.01")
    code, text = cli(capsys, "lr-find", *sets, "--steps", "10", "--out", tmp_path / "f.png")
    assert code == 0, text
    both = _train_with(text)
    assert set(both) == {"optim.lr", "optim.head_lr"}, text
    assert both["optim.head_lr"] == pytest.approx(10 * both["optim.lr"], rel=0.05), text
    assert f"suggested optim.head_lr: {both['optim.head_lr']:g}, 10× optim.lr" in text
    kw = dict(model="cnn", data="digits", data__limit=200, model__widths=[4, 8], model__fc=[16],
              train__batch_size=16, train__device="cpu", train__freeze=FROZEN, steps=10)  # fmt: skip
    alone = vislab.lr_find(**kw, optim__lr=0.01, optim__head_lr=1e-6)
    plain = vislab.lr_find(**kw)  # the same layer trained at optim.lr
    assert alone.losses == plain.losses
    assert alone.settings == {"optim.head_lr": plain.settings["optim.lr"]}
    assert "only the head trains (optim.head_lr): the curve's lr is the head's own" in alone.lines()


def _suite_file(tmp_path, runs: dict) -> str:
    base = {"data": {"name": "digits", "limit": 200}, "train": {"epochs": 1, "device": "cpu"}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"base": base, "runs": runs}))
    return str(path)


def test_a_suites_dry_run_says_which_runs_fail_for_weights_they_cannot_load(
    capsys, tmp_path, monkeypatch
):
    """Pretrained weights not on disk and a train.init_from run that does not exist: each run is said to
    fail with the run's own error, as the suite would fail it; the run without either starts."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no weights cached there
    small = {"model.name": "cnn", "model.widths": [4], "model.fc": [8]}
    runs = {
        "plain": small,
        "pretrained": {"model.name": "resnet18", "model.pretrained": True},
        "initbad": {**small, "train.init_from": str(tmp_path / "runs" / "missing")},
    }
    code, text = cli(capsys, "suite", _suite_file(tmp_path, runs), "--out", tmp_path / "s",
                     "--dry-run")  # fmt: skip
    flat = one_line(text)
    assert code == 0, text
    assert "dry run: 1 to start, 2 failed; nothing was trained or written" in flat, text
    assert "plain: start — model cnn" in flat
    assert "pretrained: start, which fails: model.pretrained=true needs torchvision's" in flat
    assert (
        f"initbad: start, which fails: train.init_from: '{tmp_path / 'runs' / 'missing'}'" in flat
    )
    assert not (tmp_path / "s").exists()


class _TimmViT(nn.Module):
    """A stand-in for a timm ViT (its class is timm's: TimmHooks read its no_weight_decay)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, 64))
        self.head = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.flatten(1) + self.pos_embed)

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed"}


_TimmViT.__module__ = "timm.models.vision_transformer"


def test_a_timm_model_gets_no_note_about_hooks_it_uses(capsys, tmp_path, monkeypatch):
    """vislab reads a timm model's no_weight_decay through TimmHooks: no note that it is unused."""
    monkeypatch.setitem(MODEL_PREFIXES, "timm", lambda name, shape, n, **kw: _TimmViT(n))
    sets = _sets("model.name=timm:vit_stand_in", "optim.name=adamw", "optim.weight_decay=0.05",
                 "optim.decay_bias_norm=false")  # fmt: skip
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "r")
    assert code == 0, text
    assert "no_weight_decay" not in text and "ModelHooks" not in text, text


def test_metrics_rows_carry_the_heads_lr():
    """optim.head_lr's groups (those with an lr_scale): their lr beside the row's lr; none without."""
    from vislab.training.optim import head_lr

    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    opt = torch.optim.SGD(
        [{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.01, "lr_scale": 10.0}],
        lr=0.001,
    )
    assert head_lr(opt) == 0.01
    assert head_lr(torch.optim.SGD(a.parameters(), lr=0.001)) is None
    row = EpochRow(1, 0.5, 0.9, 0.001, seconds=1.0, head_lr=head_lr(opt))
    written = row.to_json()
    assert list(written)[:6] == ["epoch", "train_loss", "train_acc", "lr", "head_lr", "seconds"]
    assert written["head_lr"] == 0.01 and EpochRow.from_json(written).head_lr == 0.01
    assert "head_lr" not in EpochRow(1, 0.5, 0.9, 0.001, seconds=1.0).to_json()


BN_NET = textwrap.dedent(
    """
    import torch
    from torch import nn


    def build(input_shape, num_classes, weights: str | None = None):
        net = nn.Sequential(
            nn.Conv2d(input_shape[0], 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, num_classes),
        )
        if weights:
            net.load_state_dict(torch.load(weights))
        return net
    """
)


def test_no_batch_norm_note_for_statistics_loaded_from_weights(capsys, tmp_path, monkeypatch):
    """3 batches in all: batch norm trained from scratch gets the note; statistics that start from
    another run (train.init_from) do not, whatever values they hold (here those of a run whose batch norm
    train.freeze held: mean 0, variance 1); nor do those a user's builder loads from its own weights file
    (its model.weights means nothing to vislab: the statistics are no longer their starting values)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bnnet.py").write_text(BN_NET)
    own = ["model.name=bnnet.py:build", "train.batch_size=64"]
    code, text = cli(capsys, "train", *_sets(*own), "--out", "scratch")
    assert code == 0 and "uses batch norm" in text, text
    code, text = cli(capsys, "train", *_sets(*own, "train.freeze=[1.*]"), "--out", "held")
    assert code == 0 and "uses batch norm" not in text, text
    state = torch.load("held/checkpoints/best.pt", weights_only=False)["state_dict"]
    assert state["1.running_var"].eq(1).all()  # frozen: never updated
    trained = torch.load("scratch/checkpoints/best.pt", weights_only=False)["state_dict"]
    torch.save(trained, "trained.pth")
    for extra in ("model.weights=trained.pth", "train.init_from=held"):
        code, text = cli(capsys, "train", *_sets(*own, extra), "--out", extra.split("=")[0])
        assert code == 0 and "uses batch norm" not in text, (extra, text)


def test_metrics_jsonl_has_the_heads_lr_as_it_trains(capsys, tmp_path):
    """All but the head frozen, optim.head_lr=0.01 under a cosine schedule: the only group trains at the
    head's lr, which each row of metrics.jsonl gives beside optim.lr's, scheduled as the group is."""
    frozen = f"train.freeze=[{','.join(FROZEN)}]"
    sets = _sets(*CNN, frozen, "optim.head_lr=0.01", "train.epochs=2", "schedule.name=cosine")
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "r")
    assert code == 0, text
    lines = (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    state = torch.load(tmp_path / "r" / "checkpoints" / "last.pt", weights_only=False)
    (group,) = state["optimizer"]["param_groups"]  # the head's: the rest is frozen
    assert [list(r)[3:5] for r in rows] == [["lr", "head_lr"]] * 2
    assert rows[-1]["head_lr"] == pytest.approx(group["lr"])
    assert rows[0]["head_lr"] == pytest.approx(10 * rows[0]["lr"])  # cosine: the same factor
    assert rows[1]["head_lr"] < rows[0]["head_lr"]
