"""The normalisation statistics as one typed record (``NormStats``): checkpoints keep storing the dict
vislab has always written (standard, ImageNet, ZCA, none) and such files load, predict, evaluate and
resume as they did; the record round-trips; its normalisation is the dict form's, bit for bit."""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import vislab
from vislab.data import load_splits
from vislab.data.crop import centre_crop
from vislab.data.preprocess import NormStats, apply_stats, fit_stats
from vislab.errors import DataError
from vislab.export_spec import normalization_spec
from vislab.predict import load_model
from vislab.training.checkpoint import load_checkpoint, save_checkpoint

OLD_RUN = (
    Path(__file__).parent / "data" / "run_v0_1"
)  # written by vislab main of 2026-12-03: 1×8×8 → 6×6

_g = torch.Generator().manual_seed(0)
# the ``preprocess`` dicts checkpoints hold, as vislab wrote them before the record (keys in their order)
DICTS = {
    "standard": {"mode": "standard", "mean": torch.tensor([0.3]), "std": torch.tensor([0.4])},
    "imagenet": {
        "mode": "standard",
        "mean": torch.tensor([0.485, 0.456, 0.406]).mean().view(1),
        "std": torch.tensor([0.229, 0.224, 0.225]).mean().view(1),
        "fixed": "imagenet",
    },
    "zca": {
        "mode": "zca",
        "mean": torch.rand(36, generator=_g),
        "W": torch.eye(36) * 2 + 0.05 * torch.randn(36, 36, generator=_g),
        "epsilon": 0.1,
    },
    "none": {"mode": "none"},
}


def old_apply(x: torch.Tensor, stats: dict) -> torch.Tensor:
    """vislab's normalisation as it was written against the dict (the reference)."""
    mode = stats["mode"]
    if mode == "none":
        return x
    if mode == "standard":
        mean, std = stats["mean"].to(x.device), stats["std"].to(x.device)
        if x.ndim == 4:
            mean, std = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)
        return (x - mean) / std
    shape = x.shape
    flat = x.reshape(shape[0], -1)
    return ((flat - stats["mean"].to(x.device)) @ stats["W"].to(x.device)).reshape(shape)


def saved_bytes(value: object) -> bytes:
    buf = io.BytesIO()
    torch.save(value, buf)
    return buf.getvalue()


def run_with(tmp_path: Path, preprocess: dict) -> Path:
    """A copy of the old run whose checkpoints hold ``preprocess``, written as a plain dict."""
    run = tmp_path / "run"
    shutil.copytree(OLD_RUN, run)
    for name in ("best.pt", "last.pt"):
        path = run / "checkpoints" / name
        d = torch.load(path, weights_only=True)
        d["preprocess"] = preprocess
        torch.save(d, path)
    return run


@pytest.mark.parametrize("form", list(DICTS))
def test_a_dict_checkpoint_loads_predicts_and_evaluates_as_before(tmp_path, form):
    run = run_with(tmp_path, DICTS[form])
    best = run / "checkpoints" / "best.pt"
    ckpt = load_checkpoint(best)
    # what the checkpoint stores is the same dict, byte for byte, once loaded and saved again
    save_checkpoint(tmp_path / "again.pt", ckpt)
    again = torch.load(tmp_path / "again.pt", weights_only=True)["preprocess"]
    assert list(again) == list(DICTS[form])
    assert saved_bytes(again) == saved_bytes(DICTS[form])
    # predict: the dict's normalisation of the centre crop, then the model
    model, _ = load_model(best)
    ramp = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    x = centre_crop(torch.from_numpy(ramp).float().div(255)[None, None], 6)
    with torch.no_grad():
        want = torch.softmax(model(old_apply(x, DICTS[form])), 1)[0]
    loaded = vislab.load_run(run)
    [top] = loaded.predict([ramp], top_k=10)
    assert [p for _, p in top] == pytest.approx(sorted(want.tolist(), reverse=True), abs=1e-6)
    # evaluate: the test split, normalised the same way
    test = load_splits(loaded.config.data, loaded.config.train.seed).test
    xs = centre_crop(torch.from_numpy(test.x).permute(0, 3, 1, 2).float().div(255), 6)
    with torch.no_grad():
        acc = (model(old_apply(xs, DICTS[form])).argmax(1).numpy() == test.y).mean()
    assert loaded.evaluate("test")["acc"] == pytest.approx(acc)


def test_a_dict_last_pt_resumes_and_keeps_its_statistics(tmp_path):
    run = run_with(tmp_path, DICTS["zca"])
    last = run / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last)
    ckpt.record.config["train"]["epochs"] = 2  # continue the run for one more epoch
    save_checkpoint(last, ckpt)
    summary = vislab.train(out=run, resume=True).summary
    assert summary["status"] == "complete" and summary["epochs_run"] == 2
    stored = torch.load(last, weights_only=True)["preprocess"]
    assert saved_bytes(stored) == saved_bytes(DICTS["zca"])


def test_export_states_each_dict_form_as_before():
    assert normalization_spec(NormStats.from_dict(DICTS["none"])) == {"mode": "none"}
    std = normalization_spec(NormStats.from_dict(DICTS["standard"]))
    assert std == {"mode": "standard", "mean": [pytest.approx(0.3)], "std": [pytest.approx(0.4)]}
    net = normalization_spec(NormStats.from_dict(DICTS["imagenet"]))
    assert net["fixed"] == "imagenet" and net["mean"] == [pytest.approx(0.449, abs=1e-3)]
    zca = normalization_spec(NormStats.from_dict(DICTS["zca"]))
    assert zca["epsilon"] == 0.1 and zca["mean"] == pytest.approx(DICTS["zca"]["mean"].tolist())
    matrix = np.frombuffer(base64.b64decode(zca["matrix"]["data"]), "<f4").reshape(36, 36)
    assert np.array_equal(matrix, DICTS["zca"]["W"].numpy())


def fitted() -> dict[str, tuple[NormStats, torch.Tensor]]:
    """Statistics fitted by each mode, and a batch to normalise with them (images, and features)."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (40, 4, 4, 1), dtype=np.uint8)
    feats = rng.normal(2, 3, (40, 5)).astype(np.float32)
    as_batch = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float().div(255)  # noqa: E731
    return {
        "standard": (fit_stats(rgb, "standard"), as_batch(rgb)),
        "standard features": (fit_stats(feats, "standard"), torch.from_numpy(feats)),
        "zca": (fit_stats(rgb, "zca"), as_batch(rgb)),
        "zca features": (fit_stats(feats, "zca", 0.01), torch.from_numpy(feats)),
        "none": (fit_stats(rgb, "none"), as_batch(rgb)),
        "imagenet": (fit_stats(rgb, "imagenet"), as_batch(rgb)),
        "imagenet grey": (fit_stats(grey, "imagenet"), as_batch(grey)),
    }


@pytest.mark.parametrize("name", list(fitted()))
def test_the_record_normalises_as_the_dict_did_and_round_trips(name):
    stats, x = fitted()[name]
    d = stats.to_dict()
    assert torch.equal(apply_stats(x, stats), old_apply(x, d))  # bit for bit
    keys = {
        "standard": ["mode", "mean", "std"],
        "zca": ["mode", "mean", "W", "epsilon"],
        "none": ["mode"],
        "imagenet": ["mode", "mean", "std", "fixed"],
    }[name.split()[0]]
    assert list(d) == keys  # the dict checkpoints have always stored
    back = NormStats.from_dict(d)
    assert back.to_dict().keys() == d.keys()
    assert all(v is back.to_dict()[k] or v == back.to_dict()[k] for k, v in d.items())
    moved = stats.to("meta")
    assert (
        moved.mode == stats.mode and moved.epsilon == stats.epsilon and moved.fixed == stats.fixed
    )
    assert all(t.device.type == "meta" for t in moved.to_dict().values() if torch.is_tensor(t))


@pytest.mark.parametrize(
    "preprocess",
    [{"mode": "standard", "mean": torch.tensor([0.3])}, {"mode": "zca", "mean": torch.zeros(36)}],
)
def test_a_checkpoint_with_incomplete_statistics_is_named_on_load(tmp_path, preprocess):
    # before: it loaded, and predict or evaluate failed later with a KeyError traceback
    run = run_with(tmp_path, preprocess)
    with pytest.raises(DataError, match="malformed preprocess"):
        load_checkpoint(run / "checkpoints" / "best.pt")
