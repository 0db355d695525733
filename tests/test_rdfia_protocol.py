"""RDFIA's protocol, exactly: test-set tracking that never steers training, RandomCrop(28) of 32×32 with the
centre crop wherever the model meets an image, the RDFIA CNN's layer sizes and weight count, the suites that
use them; per-dataset crop padding, and an epoch-0 row measured on the images epoch 1 trains on."""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import cli, one_line, tiny_config
from fixtures import write_cifar
from vislab.config import AugmentConfig, Crop
from vislab.data import load_splits
from vislab.data.augment import build_augment
from vislab.data.crop import crop_pad, crop_padding
from vislab.data.loader import DeviceLoader
from vislab.data.preprocess import NormStats, apply_stats
from vislab.data.types import ArraySet
from vislab.experiments.suites.spec import load_suite, run_config
from vislab.predict import load_model
from vislab.training.checkpoint import load_checkpoint
from vislab.training.rundir import RunDir
from vislab.training.runtime import Distributed
from vislab.training.setup import set_up
from vislab.training.trainer import evaluate_at_start, train


def raw_checkpoint(path):
    """A checkpoint file's contents as saved (the on-disk dict)."""
    return load_checkpoint(path).to_dict()


# dropout, batch norm, random crops and flips, early stopping: every source of randomness and state that a
# stray evaluation could disturb
STEERED = (
    "model.name=cnn",
    "model.widths=[8,16]",
    "model.fc=[32]",
    "model.batchnorm=true",
    "model.dropout=0.3",
    "augment.crop.p=1",
    "augment.crop.size=6",
    "augment.hflip.p=0.5",
    "train.epochs=3",
    "train.early_stop=2",
    "train.eval_at_start=true",
    "optim.lr=0.01",
)


def without_test(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("test_") and k != "seconds"}


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------------------ test tracking
def test_tracking_the_test_set_never_changes_the_training(tmp_path):
    plain, tracked = tmp_path / "plain", tmp_path / "tracked"
    train(tiny_config(*STEERED), plain, quiet=True)
    train(tiny_config(*STEERED, "train.track_test=true"), tracked, quiet=True)
    a, b = (raw_checkpoint(r / "checkpoints" / "best.pt") for r in (plain, tracked))
    assert a["epoch"] == b["epoch"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k, v in a["state_dict"].items():  # the same bytes, BN running statistics included
        assert v.dtype == b["state_dict"][k].dtype and torch.equal(v, b["state_dict"][k]), k
    # every row the same but for the tracked test metrics (and the wall-clock seconds)
    ra, rb = rows(plain), rows(tracked)
    assert len(ra) == len(rb) >= 2 and ra[0]["epoch"] == 0
    for x, y in zip(ra, rb):
        assert {"test_loss", "test_acc", "test_pacc"} <= set(y) and not set(x) & {"test_acc"}
        assert without_test(x) == without_test(y)
    # the summary's test figures come from the best epoch's weights either way
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (plain, tracked))
    for key in ("best_epoch", "epochs_run", "val_acc", "test_acc", "test_loss", "train_acc"):
        assert sa[key] == sb[key], key


def test_tracked_test_rows_are_the_test_split_and_are_drawn(tmp_path):
    run = tmp_path / "run"
    sets = ("train.track_test=true", "train.epochs=2")
    train(tiny_config(*sets, "train.figures=true"), run, quiet=True)
    last = rows(run)[-1]
    # the last row is the last epoch's weights (last.pt) on the test split, scored by hand
    ckpt = raw_checkpoint(run / "checkpoints" / "last.pt")
    model, _ = load_model(run / "checkpoints" / "last.pt")
    cfg = tiny_config("train.track_test=true", "train.epochs=2")
    test = load_splits(cfg.data, cfg.train.seed).test
    x = torch.from_numpy(test.x).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        logits = model(apply_stats(x, NormStats.from_dict(ckpt["preprocess"])))
    acc = (logits.argmax(1).numpy() == test.y).mean()
    assert last["test_acc"] == pytest.approx(acc)
    assert last["test_loss"] == pytest.approx(
        F.cross_entropy(logits, torch.from_numpy(test.y)).item(), rel=1e-5
    )
    assert (run / "figures" / "curves.png").stat().st_size > 0


def test_curves_label_the_test_line_as_tracking():
    from vislab.plotting.runs import curves_figure

    history = [
        {"epoch": e, "train_loss": 1 / e, "train_acc": 0.5, "val_loss": 1.1 / e, "val_acc": 0.4,
         "test_loss": 1.2 / e, "test_acc": 0.45}
        for e in (1, 2)
    ]  # fmt: skip
    fig = curves_figure({"run": history})
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[1].get_lines()}
    assert labels.count("test (tracked)") == 2 and styles["test (tracked)"] == ":"
    untracked = curves_figure(
        {"run": [{k: v for k, v in r.items() if "test" not in k} for r in history]}
    )
    assert all("test" not in ln.get_label() for ax in untracked.axes for ln in ax.get_lines())


# ----------------------------------------------------------------------------- crop to 28
def test_random_crop_to_a_size_takes_windows_and_skipped_samples_the_centre():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32).repeat(40, 1, 1, 1)
    torch.manual_seed(0)
    out = crop_pad(x, padding=0, p=1.0, size=28)
    assert out.shape == (80, 3, 28, 28)
    offsets = set()
    for i in range(len(x)):
        found = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(out[i], x[i, :, dy : dy + 28, dx : dx + 28])
        ]
        assert len(found) == 1
        offsets.add(found[0])
    assert len(offsets) > 10  # per sample, over the 5×5 possible offsets
    centre = crop_pad(x, padding=0, p=0.0, size=28)  # p=0: every sample keeps the evaluation crop
    assert torch.equal(centre, x[:, :, 2:30, 2:30])


@pytest.fixture(scope="module")
def cifar28(tmp_path_factory) -> tuple[Path, object]:
    """One RDFIA-CNN run on CIFAR-10 files (the real pickles, 20 images each) with RandomCrop(28) + flip."""
    tmp = tmp_path_factory.mktemp("cifar28")
    write_cifar(
        tmp / "data" / "cifar-10-batches-py", n=20
    )  # 80 train, 20 val (data_batch_5), 20 test
    cfg = tiny_config(
        "data.name=cifar10", f"data.root={tmp / 'data'}", "data.limit=null", "model.name=cnn",
        "model.preset=rdfia", "augment.crop.p=1", "augment.crop.size=28", "augment.hflip.p=0.5",
        "train.epochs=1", "train.batch_size=16", "train.track_test=true",
    )  # fmt: skip
    train(cfg, tmp / "run", quiet=True)
    return tmp / "run", cfg


def centre_28(images: np.ndarray) -> np.ndarray:
    return images[:, 2:30, 2:30]


def test_crop_28_builds_the_model_for_28_and_evaluates_on_centre_crops(cifar28, tmp_path, capsys):
    run, cfg = cifar28
    model, record = load_model(run)
    spec = record.inputs
    assert spec.input_shape == (3, 28, 28) and spec.sample_shape == (3, 32, 32)
    fc4 = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][0]
    assert fc4.in_features == 4 * 4 * 64  # pool3 in ceil mode: 7 → 4, as on 32×32
    # the test predictions the run wrote are the model on the centre 28×28 of each test image
    test = load_splits(cfg.data, cfg.train.seed).test
    x = torch.from_numpy(centre_28(test.x)).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        want = torch.softmax(model(apply_stats(x, spec.stats)), 1).numpy()
    stored = np.load(run / "predictions_test.npz")["probs"]
    assert np.abs(stored - want).max() < 1e-5
    # vislab eval scores the same crops
    code, out = cli(capsys, "eval", run, "--split", "test")
    assert code == 0, out
    acc = (want.argmax(1) == test.y).mean()
    assert f"acc {acc:.4f}" in out
    # and a 32×32 image through vislab predict: resized to 32×32, centre-cropped to 28×28
    img = Image.fromarray(test.x[3])
    img.save(tmp_path / "img.png")
    code, out = cli(capsys, "predict", run, tmp_path / "img.png", "--top-k", "1")
    assert code == 0, out
    best = int(want[3].argmax())
    assert record.model.class_names[best] in out and f"{want[3, best]:.3f}" in out


def test_export_recipe_says_to_centre_crop(cifar28, capsys):
    run, cfg = cifar28
    code, out = cli(capsys, "export", run, "--format", "torchscript")
    assert code == 0, out
    spec = json.loads((run / "export" / "model.torchscript.json").read_text())
    assert spec["input"]["shape"] == [3, 28, 28]
    assert spec["centre_crop"] == {"image_size": [32, 32], "size": 28, "top": 2, "left": 2}
    recipe = " ".join(spec["recipe"])
    assert "resize it to 32×32" in recipe and "keep rows 2 to 29 and columns 2 to 29" in recipe
    # the recipe applied by hand (numpy) to raw test images gives the run's own test predictions
    test = load_splits(cfg.data, cfg.train.seed).test
    c = spec["centre_crop"]
    x = test.x[:, c["top"] : c["top"] + c["size"], c["left"] : c["left"] + c["size"]]
    x = x.astype(np.float32).transpose(0, 3, 1, 2) / 255
    norm = spec["normalization"]
    x = (x - np.float32(norm["mean"]).reshape(1, -1, 1, 1)) / np.float32(norm["std"]).reshape(
        1, -1, 1, 1
    )
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", FutureWarning
        )  # torch deprecates TorchScript, still loads it
        exported = torch.jit.load(str(run / "export" / "model.torchscript.pt"))
    with torch.no_grad():
        probs = torch.softmax(exported(torch.from_numpy(np.ascontiguousarray(x))), 1).numpy()
    assert np.abs(probs - np.load(run / "predictions_test.npz")["probs"]).max() < 1e-4


def test_a_crop_larger_than_the_images_is_a_config_error(tmp_path, capsys):
    code, out = cli(
        capsys, "train", "--set", "data.name=digits", "--set", "augment.crop.size=12",
        "--set", "train.epochs=1", "--out", tmp_path / "run",
    )  # fmt: skip
    assert code == 2
    assert "augment.crop.size=12 is larger than the 8×8 images" in one_line(out)
    assert "data.resize" in one_line(out)


def test_zca_with_a_crop_is_fitted_on_the_centre_crops(tmp_path, capsys):
    """ZCA acts on whole samples: with augment.crop.size its matrix is fitted on the size×size centre
    crops the model sees (a whole-image matrix cannot whiten a crop); eval and predict use it."""
    run = tmp_path / "run"
    code, out = cli(
        capsys, "train", "-q", *(a for kv in [
            "data.name=digits", "data.limit=300", "data.normalize=zca", "model.name=mlp",
            "model.hidden=[16]", "augment.crop.p=1", "augment.crop.size=6", "train.epochs=1",
        ] for a in ("--set", kv)), "--out", run,
    )  # fmt: skip
    assert code == 0, out
    stats = raw_checkpoint(run / "checkpoints" / "best.pt")["preprocess"]
    assert stats["mode"] == "zca" and tuple(stats["W"].shape) == (36, 36)
    assert cli(capsys, "eval", run)[0] == 0
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "img.png")
    assert cli(capsys, "predict", run, tmp_path / "img.png")[0] == 0


def test_rdfia_cnn_on_28x28_has_the_reports_layer_sizes_and_weights(capsys):
    code, out = cli(capsys, "model", "info", "cnn", "--set", "preset=rdfia", "--input", "3x28x28")
    assert code == 0, out
    shapes = re.findall(r"│ \d+\s+│ (\w+)\s+│ ([\d×]+)\s+│", out)
    assert [s for t, s in shapes if t in ("Conv2d", "MaxPool2d", "Linear")] == [
        "32×28×28", "32×14×14", "64×14×14", "64×7×7", "64×7×7", "64×4×4", "1000", "10",
    ]  # fmt: skip
    # RDFIA 1-cd Q10/Q11: 2,400 + 51,200 + 102,400 + 1,024,000 + 10,000 = 1,190,000 weights (+ biases)
    text = one_line(out)
    assert "weights 1,190,000" in text and "parameters: 1,191,170" in text


# ------------------------------------------------------------------------------------ suites
def test_cnn_ladder_crops_28_and_tracks_the_test_set():
    suite = load_suite("cnn-ladder")
    for name in ("crop-flip", "momentum", "batchnorm", "affine"):
        cfg = run_config(suite, name)
        assert cfg.augment.crop.size == 28 and cfg.augment.crop.padding is None
        assert (
            build_augment(cfg.augment, (3, 32, 32)).ops[0].padding == 0
        )  # RandomCrop(28): no padding
    assert all(run_config(suite, n).train.track_test for n in suite.runs)


def test_mlp_basics_has_the_mnist_mlp_and_varies_n():
    suite = load_suite("mlp-basics")
    sizes = []
    for name in suite.groups["mnist-training-size"]:
        cfg = run_config(suite, name)
        assert cfg.data.name == "mnist" and cfg.data.split is None and cfg.train.track_test
        assert (cfg.model.name, cfg.model.kwargs()["impl"], cfg.optim.lr, cfg.train.batch_size) == (
            "mlp-scratch", "optim", 0.03, 10,
        )  # fmt: skip
        sizes.append(cfg.data.limit)
    assert sizes == [100, 1000, 10000, None]
    assert run_config(suite, "default").data.name == "circles"


# ------------------------------------------------------------------ crop padding per dataset
def test_default_crop_padding_is_an_eighth_of_the_image_side():
    assert [crop_padding(Crop(p=1), side) for side in (8, 28, 32, 64)] == [1, 4, 4, 8]
    assert crop_padding(Crop(p=1, size=28), 32) == 0 and crop_padding(Crop(p=1, padding=2), 8) == 2
    # on the 8×8 digits a crop moves the digit by at most one pixel: most of it stays in frame
    aug = build_augment(AugmentConfig(crop=Crop(p=1)), (1, 8, 8))
    x = torch.rand(64, 1, 8, 8)
    torch.manual_seed(0)
    out = aug(x)
    for i in range(64):
        assert any(
            torch.equal(out[i], F.pad(x[i], (1, 1, 1, 1))[:, dy : dy + 8, dx : dx + 8])
            for dy in range(3) for dx in range(3)
        )  # fmt: skip


# ------------------------------------------------------------ epoch 0 covers epoch 1's images
def test_epoch_zero_scores_the_images_epoch_one_trains_on(tmp_path):
    cfg = tiny_config("data.limit=100", "train.eval_at_start=true", "train.batch_size=32")
    run = RunDir(tmp_path / "run")
    run.open()
    t = set_up(cfg, run, None, True, Distributed())
    row = evaluate_at_start(t)
    run.close()
    batches = list(t.data.train.epoch(0))  # no augmentation: the images as epoch 1 sees them
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    assert len(y) == 96  # drop_last leaves 4 of the 100 out
    with torch.no_grad():
        logits = t.network.model.eval()(x)
    assert row.train_loss == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    assert row.train_acc == pytest.approx((logits.argmax(1) == y).double().mean().item())


def test_trained_indices_cover_every_rank_without_the_dropped_tails():
    data = ArraySet(np.zeros((50, 4, 4, 1), np.uint8), np.arange(50))  # label = sample index
    for world, n in ((1, 48), (2, 48)):  # 50 → 6 batches of 8; 2 shards of 25 → 3 batches of 8 each
        shards = [
            DeviceLoader(data, NormStats("none"), 8, shuffle=True, drop_last=True, seed=3, rank=r, world=world)
            for r in range(world)
        ]  # fmt: skip
        trained = torch.cat([b[1] for ld in shards for b in ld.epoch(2)]).sort()[0]
        assert len(trained) == n and torch.equal(shards[0].trained_indices(2), trained)
