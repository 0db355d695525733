"""No host sync in the CUDA step loop: cnn, vit, fast and a user's own model trained two epochs with
``torch.cuda.set_sync_debug_mode("error")`` on while the loader is iterated, and one trainer run in mode
"warn" whose only sync warnings are the epoch's log points. Skipped without CUDA (the CPU counts of the
same loop are in tests/test_fast.py)."""

from __future__ import annotations

import contextlib
import json
import textwrap
import warnings
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F

import vislab.training.parts as parts_mod
from conftest import tiny_config
from vislab.data import prepare_data
from vislab.data.augment import build_augment
from vislab.data.loader import DeviceLoader
from vislab.models import build_model
from vislab.models.hooks import ModelHooks, hooks_of
from vislab.training.optim import build_optimizer
from vislab.training.precision import Precision
from vislab.training.progress import Progress
from vislab.training.trainer import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CROP_FLIP = ("augment.crop.p=1", "augment.hflip.p=0.5")
MODELS = {
    "cnn": ("model.name=cnn", "model.widths=[8,8]", "model.batchnorm=true", "model.dropout=0.2"),
    "vit": ("model.name=vit", "model.patch_size=4", "model.embed_dim=16", "model.depth=1",
            "model.drop_path=0.1"),
    "fast": ("model.name=fast", "model.widths=[8,16]"),  # whitening init, EMA, alternate flips
    "user": ("model.name=net.py:Net", "model.width=8"),
}  # fmt: skip
NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes: int, input_shape: tuple, width: int = 8):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(input_shape[0], width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes),
        )

    def forward(self, x):
        return self.body(x)
"""


@contextlib.contextmanager
def sync_debug(mode: str) -> Iterator[None]:
    """CUDA's sync debug mode ("warn": a warning, "error": an exception at every host sync) for the block."""
    before = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(mode)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(before)


def set_up(cfg, device: torch.device) -> tuple[torch.nn.Module, ModelHooks, DeviceLoader]:
    """The model, its hooks and its shuffled, augmented train loader on ``device``, as the trainer builds
    them (NHWC for a conv net, alternate flips when the model asks, data-dependent init)."""
    splits, stats = prepare_data(cfg.data, cfg.train.seed)
    shape = splits.sample_shape
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model.name, shape, splits.num_classes, **cfg.model.kwargs()).to(device)
    hooks = hooks_of(model)
    loader = DeviceLoader(
        splits.train, stats, cfg.train.batch_size, device, shuffle=True, drop_last=True,
        augment=build_augment(cfg.augment, shape), seed=cfg.train.seed,
    )  # fmt: skip
    loader.alternate_flip = hooks.flip_policy == "alternate"
    if any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
        loader.channels_last = True
    first = torch.arange(len(loader.y), device=device)
    hooks.init_from_data(loader.batch(first, augment=False)[0])
    return model, hooks, loader


@pytest.mark.parametrize("name", list(MODELS))
def test_steps_by_hand_never_sync(name, tmp_path, monkeypatch):
    """Two epochs of loader batches → bf16 forward → backward → fused optimizer step → ``after_step``,
    under sync debug mode "error": any host sync in the loader, the model or the step raises."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(textwrap.dedent(NET))
    cfg = tiny_config(*MODELS[name], *CROP_FLIP, "data.limit=512", "train.device=cuda")
    device = torch.device("cuda")
    model, hooks, loader = set_up(cfg, device)
    opt = build_optimizer([p for p in model.parameters() if p.requires_grad], cfg.optim)
    assert opt.defaults.get("fused"), "the step under test is the fused one"
    sums = torch.zeros(2, device=device)  # summed loss, steps: read back after the loop
    model.train()
    for epoch in range(2):
        with sync_debug("error"), torch.autocast("cuda", dtype=torch.bfloat16):
            for x, y in loader.epoch(epoch):
                loss = F.cross_entropy(model(x).float(), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                hooks.after_step()
                sums += torch.stack([loss.detach(), torch.ones((), device=device)])
    loss_sum, steps = sums.tolist()
    assert steps == 2 * len(loader) > 4 and torch.isfinite(torch.tensor(loss_sum))


@pytest.mark.parametrize("precision", ["this GPU's", "fp16"])
def test_trainer_syncs_only_at_its_log_points(tmp_path, monkeypatch, precision):
    """A real run (``vislab.training.trainer.train``) with sync debug mode "warn" on while its train split
    is iterated and progress lines off: the only syncs left are the epoch-end means, ≤ 2 per epoch of
    16 steps. Also in fp16 with loss scaling and gradient clipping (a T4's path, forced here): the
    scaler's overflow check and skipped steps stay on the device with the fused optimizer."""
    extra = ()
    if precision == "fp16":
        fp16 = Precision("cuda", torch.float16)
        monkeypatch.setattr(parts_mod, "choose_precision", lambda device, amp: fp16)
        extra = ("train.grad_clip=1.0",)
    monkeypatch.setattr(Progress, "wants_update", lambda self, step: False)
    real_epoch = DeviceLoader.epoch

    def watched_epoch(self, epoch=0, start_step=0):
        if not self.shuffle:  # evaluation reads its metrics back: not the step loop
            yield from real_epoch(self, epoch, start_step)
            return
        with sync_debug("warn"):
            yield from real_epoch(self, epoch, start_step)

    monkeypatch.setattr(DeviceLoader, "epoch", watched_epoch)
    cfg = tiny_config(*MODELS["fast"], *CROP_FLIP, "data.limit=512", "train.device=cuda", *extra)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(cfg, tmp_path / "run", quiet=True)
    syncs = [f"{w.filename}:{w.lineno}" for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) <= 2 * cfg.train.epochs, syncs
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    native_bf16 = torch.cuda.get_device_capability() >= (8, 0)
    assert summary["precision"] == ("bf16" if precision != "fp16" and native_bf16 else "fp16")
    assert summary["status"] == "complete"
