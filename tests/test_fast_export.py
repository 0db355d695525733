"""The built-in ``fast`` model exports to TorchScript and ONNX, computing what the run evaluates (its own
EMA weights, over each image and its mirror), and its export's JSON says so; its checkpoints keep the
state-dict keys of earlier versions, so they still load."""

import json

import numpy as np
import pytest
import torch

import vislab
from conftest import cli, tiny_config
from test_export import FORMATS, TOL, apply_recipe, run_exported, softmax
from vislab.config import load_config
from vislab.data import load_splits
from vislab.data.preprocess import apply_stats
from vislab.export import spec_path
from vislab.models import build_model
from vislab.predict import load_model
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    """A 2-epoch ``fast`` run on digits (8×8: two stages)."""
    run = tmp_path_factory.mktemp("fast-export") / "run"
    over = (
        "model.name=fast",
        "model.widths=[8,16]",
        "optim.name=sgd",  # its preset's optimizer: the EMA and the flip then move the logits clearly
        "optim.lr=0.2",
        "optim.momentum=0.9",
        "optim.nesterov=true",
        "schedule.name=onecycle",
        "train.figures=false",  # the tests read the checkpoints and the test predictions
    )
    train(tiny_config(*over), run, quiet=True)
    return run


def _test_images(run) -> np.ndarray:
    cfg = load_config(run / "config.yaml")
    return load_splits(cfg.data, cfg.train.seed).test.x


def _pytorch_logits(model, record, images: np.ndarray) -> torch.Tensor:
    """The run's model on raw uint8 images, normalised as vislab predict does."""
    raw = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    with torch.no_grad():
        return model(apply_stats(raw, record.inputs.stats))


@pytest.mark.parametrize("fmt", FORMATS)
def test_fast_exports_what_the_run_evaluates(fast_run, capsys, tmp_path, fmt):
    out = tmp_path / f"fast.{fmt}"
    code, text = cli(capsys, "export", fast_run, "--format", fmt, "--out", out)
    assert code == 0, text  # TorchScript used to refuse: "model 'fast' could not be traced"
    spec = json.loads(spec_path(out, fmt).read_text())
    images = _test_images(fast_run)
    got = run_exported(fmt, out, apply_recipe(spec, images))
    model, record = load_model(fast_run)
    want = _pytorch_logits(model, record, images).numpy()
    assert got.shape == want.shape == (len(images), 10)
    assert np.abs(got - want).max() <= TOL
    # ... the test probabilities the run wrote when it finished
    stored = np.load(fast_run / "predictions_test.npz")["probs"]
    assert np.abs(softmax(got.astype(np.float64)) - stored).max() <= TOL


def test_fast_export_json_says_it_averages_weights_and_mirrors(fast_run, capsys, tmp_path):
    out = tmp_path / "fast.torchscript.pt"
    code, text = cli(capsys, "export", fast_run, "--format", "torchscript", "--out", out)
    assert code == 0, text
    spec = json.loads(out.with_suffix(".json").read_text())
    images = _test_images(fast_run)[:64]
    got = run_exported("torchscript", out, apply_recipe(spec, images))
    # what the file computes: the model's own EMA weights, mean logits over each image and its mirror
    model, record = load_model(fast_run)
    x = apply_stats(
        torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255), record.inputs.stats
    )
    with torch.no_grad():
        ema = 0.5 * (model.ema(x) + model.ema(x.flip(-1))) * model.scale
        live = model.net(x) * model.scale
    assert np.abs(got - ema.numpy()).max() <= TOL
    assert np.abs(got - live.numpy()).max() > 100 * TOL  # not the trained weights, not one view
    # the model's own flip average and weight average, which model.json said were "none" and false
    assert "mirror" in spec["test_time_augmentation"]
    assert spec["checkpoint"]["ema_average"] is True


# the state-dict keys of a fast model (1×8×8 input, widths=[8]) as vislab wrote them before the EMA became a
# copy of the network: float tensors only under ema., 'a.b' as 'a__b'
OLD_KEYS = {
    "ema_steps", "whiten.weight", "whiten.bias", "net.0.weight", "net.0.bias", "net.2.0.weight",
    "net.2.2.weight", "net.2.2.bias", "net.2.2.running_mean", "net.2.2.running_var",
    "net.2.2.num_batches_tracked", "net.2.4.weight", "net.2.5.weight", "net.2.5.bias",
    "net.2.5.running_mean", "net.2.5.running_var", "net.2.5.num_batches_tracked", "net.5.weight",
    "ema.0__weight", "ema.0__bias", "ema.2__0__weight", "ema.2__2__weight", "ema.2__2__bias",
    "ema.2__4__weight", "ema.2__5__weight", "ema.2__5__bias", "ema.5__weight",
    "ema.2__2__running_mean", "ema.2__2__running_var", "ema.2__5__running_mean", "ema.2__5__running_var",
}  # fmt: skip


def test_checkpoints_keep_their_keys_and_old_ones_load():
    torch.manual_seed(0)
    model = build_model("fast", (1, 8, 8), 3, widths=[8], ema_decay=0.5)
    model.init_from_data(torch.randn(32, 1, 8, 8))
    x = torch.randn(16, 1, 8, 8)
    for _ in range(2):  # the average moves away from the live weights
        model(x).sum().backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p -= 0.1 * p.grad
        model.after_step()
    saved = model.state_dict()
    assert set(saved) == OLD_KEYS
    # a plain dict of those keys (as an old best.pt holds them, no metadata) loads strictly
    fresh = build_model("fast", (1, 8, 8), 3, widths=[8], ema_decay=0.5)
    fresh.load_state_dict({k: v.clone() for k, v in saved.items()})
    model.eval()
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
    # the average is no parameter: the parameter count is the network's
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in model.net.parameters()
    )


def test_model_info_counts_one_pass_of_the_network():
    """fast on 1×8×8 with widths [8, 16], by hand: 2×2 whitening conv 1→8 at 7×7, stage 1 conv 8→8 at 7×7
    then (after the pool) 8→8 at 3×3, stage 2 conv 8→16 at 3×3 then 16→16 at 1×1, linear 16→10 — once,
    though its eval forward runs the averaged copy on each image and its mirror."""
    info = vislab.model_info("fast", (1, 8, 8), widths=[8, 16])
    by_hand = (
        8 * 4 * 49 + 8 * 8 * 9 * 49 + 8 * 8 * 9 * 9 + 16 * 8 * 9 * 9 + 16 * 16 * 9 * 1 + 16 * 10
    )
    # one pass of the network (the flip pass doubled the count; the rows were the averaged copy's)
    assert info.macs == by_hand
    rows = {r.name: r for r in info.rows}
    assert rows["whiten"].macs == 8 * 4 * 49 and rows["net.2.0"].macs == 8 * 8 * 9 * 49
    assert not any(name.startswith("ema") for name in rows)
    assert sum(r.macs for r in info.rows) == info.macs  # the rows add up to the total
