"""The `fast` recipe (whitening init, EMA in the state dict, flip TTA) and the loader's GPU-path pieces
(uint8 crop/flip, alternating flips, host-memory streaming, data.device choice) — all on CPU."""

import numpy as np
import pytest
import torch

from conftest import tiny_config
from vislab.config import AugmentConfig, load_config
from vislab.data.augment import PerSampleChoice, build_augment
from vislab.data.loader import DeviceLoader
from vislab.data.mix import build_mix
from vislab.data.preprocess import NormStats, apply_stats, fit_stats
from vislab.data.types import ArraySet
from vislab.errors import UserError
from vislab.models import build_model
from vislab.models.hooks import hooks_of
from vislab.training import runtime
from vislab.training.checkpoint import load_checkpoint
from vislab.training.evaluate import predict_logits
from vislab.training.optim import SGD
from vislab.training.trainer import train


def raw_checkpoint(path):
    """A checkpoint file's contents as saved (the on-disk dict)."""
    return load_checkpoint(path).to_dict()


FAST = (
    "model.name=fast",
    "model.widths=[16,32]",
    "model.alternate_flip=false",
    "optim.name=sgd",
    "optim.lr=0.2",
    "optim.momentum=0.9",
    "optim.nesterov=true",
    "schedule.name=onecycle",
    "train.label_smoothing=0.2",
    "data.limit=600",
    "train.epochs=4",
    "train.select_metric=val_acc",
    "train.figures=false",  # the tests read the checkpoints and the summary
)


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fast") / "run"
    return out, train(tiny_config(*FAST), out, quiet=True)


def test_preset_loads():
    cfg = load_config("fast")
    assert cfg.model.name == "fast" and cfg.train.label_smoothing > 0 and cfg.augment.crop.p == 1


def test_fast_trains_end_to_end_above_chance(fast_run):
    _, summary = fast_run
    assert summary.status == "complete"
    assert summary.test_acc > 0.5  # 10 classes: chance is 0.1


def test_whitening_fitted_from_train_data(fast_run):
    out, _ = fast_run
    ckpt = raw_checkpoint(out / "checkpoints" / "last.pt")
    model = build_model("fast", tuple(ckpt["input_shape"]), 10, **ckpt["model_kwargs"])
    model.load_state_dict(ckpt["state_dict"])
    assert not model.whiten.weight.requires_grad
    # whitened 2×2 patches of the (normalised) train images have ≈ identity covariance
    from vislab.data import prepare_data

    splits, stats = prepare_data(load_config(None, [], base=ckpt["config"]).data, 0)
    x = DeviceLoader(splits.train, stats, 10_000).batch(
        torch.arange(len(splits.train)), augment=False
    )[0]
    with torch.no_grad():
        z = model.whiten(x)[:, : model.whiten.out_channels // 2]
    cov = torch.cov(z.permute(1, 0, 2, 3).flatten(1))
    assert torch.allclose(cov, torch.eye(len(cov)), atol=0.15)


def test_checkpoint_round_trip_keeps_ema_and_scores(fast_run):
    out, summary = fast_run
    ckpt = raw_checkpoint(out / "checkpoints" / "best.pt")
    sd = ckpt["state_dict"]
    assert any(k.startswith("ema.") for k in sd) and int(sd["ema_steps"]) > 0
    live = {k: v for k, v in sd.items() if k.startswith("net.") and v.is_floating_point()}
    assert any(not torch.equal(v, sd["ema." + k[4:].replace(".", "__")]) for k, v in live.items())
    model = build_model("fast", tuple(ckpt["input_shape"]), 10, **ckpt["model_kwargs"])
    model.load_state_dict(sd)
    from vislab.data import prepare_data

    splits, stats = prepare_data(load_config(None, [], base=ckpt["config"]).data, 0)
    saved = NormStats.from_dict(ckpt["preprocess"])
    logits, labels = predict_logits(model, DeviceLoader(splits.test, saved, 256))
    assert (logits.argmax(1) == labels).float().mean().item() == pytest.approx(summary.test_acc)


def test_eval_is_ema_weights_with_flip_tta():
    torch.manual_seed(0)
    model = build_model("fast", (3, 16, 16), 5, widths=[8, 16], ema_decay=0.5)
    model.init_from_data(torch.randn(64, 3, 16, 16))
    # vislab's SGD, as the trainer's: torch's own imports its compiler stack on first use (seconds)
    opt = SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    x, y = torch.randn(32, 3, 16, 16), torch.randint(0, 5, (32,))
    for _ in range(3):
        before = [t.clone() for t in model.ema.buffers()]
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        # forward leaves the average alone: the trainer's after_step hook folds the new weights in
        assert all(torch.equal(a, b) for a, b in zip(before, model.ema.buffers()))
        hooks_of(model).after_step()
        assert not all(torch.equal(a, b) for a, b in zip(before, model.ema.buffers()))
    model.eval()
    with torch.no_grad():
        out = model(x)
        ema = lambda v: model.ema(v) * model.scale  # noqa: E731 - the averaged network's logits
        assert torch.allclose(out, 0.5 * (ema(x) + ema(x.flip(-1))), atol=1e-5)
        assert torch.allclose(model(x.flip(-1)), out, atol=1e-5)  # flip TTA: mirror-invariant
        assert not torch.allclose(model.net(x), model.ema(x))  # EMA ≠ live weights
        model.tta = "none"
        assert torch.allclose(model(x), ema(x), atol=1e-6)
    # the average is no parameter: nothing for the optimizer, the parameter count, or train.freeze
    assert not any(name.startswith("ema.") for name, _ in model.named_parameters())


def _folded_once(model, weight):
    """The EMA's tensors after one after_step from zero with every tracked weight of ``model.net`` set to
    ``weight``: (1 − d)·weight with d ≤ ``ema_decay`` = 0.5, so at least half of it."""
    with torch.no_grad():
        for t in [*model.net.parameters(), *model.net.buffers()]:
            if t.is_floating_point():
                t.fill_(weight)
        for t in model.ema.buffers():
            if t.is_floating_point():
                t.zero_()
    hooks_of(model).after_step()
    return [t for t in model.ema.buffers() if t.is_floating_point()]


def test_the_average_follows_the_tensors_a_conversion_or_copy_made():
    """`.to()`/`.double()` (of the model or of each child), a deep copy and load_state_dict(assign=True)
    put new tensors in place, which the EMA must follow (a stale list would average the old ones)."""
    import copy

    model = build_model("fast", (3, 16, 16), 5, widths=[8, 16], ema_decay=0.5)
    hooks_of(model).after_step()  # the list of tracked tensors is made here
    model.double()
    assert all(t.dtype == torch.float64 and float(t.min()) >= 0.5 for t in _folded_once(model, 1.0))
    twin = copy.deepcopy(model)  # the copy follows its own tensors
    assert all(float(t.min()) >= 0.5 * 2 for t in _folded_once(twin, 2.0))
    assert all(float(t.max()) <= 1.0 for t in model.ema.buffers() if t.is_floating_point())
    model.net.float(), model.ema.float()  # each child converted on its own
    assert all(t.dtype == torch.float32 and float(t.min()) >= 1.5 for t in _folded_once(model, 3.0))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state, assign=True)  # new tensors put in place of the old
    assert all(float(t.min()) >= 2.5 for t in _folded_once(model, 5.0))


def test_too_small_images_are_a_user_error():
    with pytest.raises(UserError, match="too small"):
        build_model("fast", (1, 8, 8), 10, widths=[16, 32, 64])


# ---------------------------------------------------------------------------------------- loader
def image_set(n=64, size=12, c=3):
    rng = np.random.default_rng(0)
    return ArraySet(rng.integers(0, 256, (n, size, size, c), dtype=np.uint8), np.arange(n) % 4)


def test_byte_crop_flip_matches_the_float_ops():
    data = image_set()
    stats = fit_stats(data.x, "standard")
    aug = build_augment(
        AugmentConfig.model_validate({"crop": {"p": 0.7, "padding": 3}, "hflip": {"p": 0.5}}),
        (3, 12, 12),
    )
    ld = DeviceLoader(data, stats, 64, augment=aug)
    assert ld._byte_ops  # the uint8 path is taken
    idx = torch.arange(64)
    torch.manual_seed(5)
    fast, y = ld.batch(idx)
    # the reference: floats in [0, 1] through the augment modules, then normalise
    torch.manual_seed(5)
    ref = apply_stats(aug(ld.x[idx].float().div(255)), stats)
    assert torch.allclose(fast, ref, atol=1e-5) and torch.equal(y, ld.y[idx])


def test_alternating_flip_mirrors_each_image_every_other_epoch():
    data = image_set()
    ld = DeviceLoader(data, NormStats("none"), 64, shuffle=False)
    ld.alternate_flip = True
    x = ld.x.float() / 255
    flipped = []
    for epoch in range(3):
        ((xb, _),) = list(ld.epoch(epoch))
        is_flip = torch.tensor([torch.equal(xb[i], x[i].flip(-1)) for i in range(64)])
        assert all(torch.equal(xb[i], x[i]) for i in range(64) if not is_flip[i])
        flipped.append(is_flip)
    assert 16 < int(flipped[0].sum()) < 48  # a random half
    assert torch.equal(flipped[1], ~flipped[0]) and torch.equal(flipped[2], flipped[0])


def test_streamed_batches_equal_resident_ones():
    data = image_set()
    stats = fit_stats(data.x, "standard")
    aug = build_augment(
        AugmentConfig.model_validate({"crop": {"p": 1.0}, "hflip": {"p": 0.5}}), (3, 12, 12)
    )
    resident = DeviceLoader(data, stats, 16, shuffle=True, augment=aug, seed=2)
    streamed = DeviceLoader(data, stats, 16, shuffle=True, augment=aug, seed=2)
    streamed.stream = (
        True  # host storage → device copies (CPU → CPU here; pinned + non_blocking on CUDA)
    )
    for ld in (resident, streamed):
        ld.alternate_flip = True
    torch.manual_seed(0)
    a = list(resident.epoch(1))
    torch.manual_seed(0)
    b = list(streamed.epoch(1))
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))


def test_data_device_policy(monkeypatch):
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    assert runtime.resolve_data_device("auto", cpu, 10**9) == cpu
    with pytest.raises(UserError, match="data.device=cuda"):
        runtime.resolve_data_device("cuda", cpu, 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (8 * 2**30, 16 * 2**30))
    # fits in half of the free memory
    assert runtime.resolve_data_device("auto", gpu, 3 * 2**30) == gpu
    # does not: pinned host memory
    assert runtime.resolve_data_device("auto", gpu, 5 * 2**30) == cpu
    assert runtime.resolve_data_device("cpu", gpu, 1) == cpu
    assert runtime.resolve_data_device("cuda", gpu, 5 * 2**30) == gpu


# ------------------------------------------------------------------------ no host sync in the step loop
# Ops that make the host wait for the device on CUDA: reading a value (.item(), bool(), float()) and
# data-dependent shapes (boolean-mask indexing, nonzero). On CPU they are cheap, but counted here they show
# what the same loop would do on a GPU.
SYNC_OPS = {
    "aten::_local_scalar_dense",
    "aten::nonzero",
    "aten::masked_select",
    "aten::is_nonzero",
    "aten::equal",
    "aten::_unique2",
    "aten::unique_dim",
}


class _CountSyncs(torch.utils._python_dispatch.TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += func._schema.name in SYNC_OPS
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize(
    "over",
    [
        (
            "model.name=cnn",
            "model.widths=[8,8]",
            "model.batchnorm=true",
            "model.dropout=0.2",
            "augment.crop.p=1",
            "augment.hflip.p=0.5",
        ),
        (
            "model.name=cnn",
            "model.widths=[8,8]",
            "augment.p=0.5",
            "augment.crop.p=0.7",
            "augment.hflip.p=0.5",
        ),
        (
            "model.name=vit",
            "model.patch_size=4",
            "model.embed_dim=16",
            "model.depth=1",
            "model.drop_path=0.1",
        ),
        (
            "model.name=fast",
            "model.widths=[8,16]",
            "train.label_smoothing=0.2",
            "augment.crop.p=1",
            "augment.hflip.p=1",
        ),
        ("model.name=mlp-scratch", "model.hidden=[16]"),
        (  # train.log_every / train.track_grad_norm: sums kept on the device, read once per epoch
            "model.name=vit",
            "model.patch_size=4",
            "model.embed_dim=16",
            "model.depth=1",
            "train.log_every=2",
            "train.track_grad_norm=true",
        ),
        ("model.name=cnn", "model.widths=[8,8]", "train.log_every=1", "train.track_grad_norm=true"),
        (  # soft targets N×K through the loss and the train accuracy (argmax of the target)
            "model.name=cnn",
            "model.widths=[8,8]",
            "augment.mixup.p=0.5",
            "augment.cutmix.p=0.5",
            "augment.erasing.p=0.5",
            "train.label_smoothing=0.1",
        ),
    ],
    ids=[
        "cnn-crop-flip",
        "cnn-augment-p",
        "vit",
        "fast",
        "mlp-scratch",
        "vit-track",
        "cnn-track",
        "cnn-mix-erase",
    ],
)
def test_training_steps_never_wait_for_the_device(tmp_path, monkeypatch, over):
    """The step loop reads nothing back except where a metric is logged: with progress logging off, the
    number of syncing ops in an epoch does not grow with its number of steps (only the epoch-end means)."""
    from vislab.training.progress import Progress

    monkeypatch.setattr(Progress, "wants_update", lambda self, step: False)
    counts = []
    real_epoch = DeviceLoader.epoch
    for limit in (256, 512):  # 8 and 16 steps of 32
        mode = _CountSyncs()

        # count only while the train split is iterated
        def counted_epoch(self, epoch=0, start_step=0, mode=mode):
            if not self.shuffle:
                yield from real_epoch(self, epoch, start_step)
                return
            with mode:
                yield from real_epoch(self, epoch, start_step)

        monkeypatch.setattr(DeviceLoader, "epoch", counted_epoch)
        # adam (fused); no run figures: drawn after the epochs (nothing counted), most of a tiny run's time
        cfg = tiny_config(*over, f"data.limit={limit}", "train.epochs=1", "train.figures=false")
        train(cfg, tmp_path / f"r{limit}", quiet=True)
        counts.append(mode.count)
    assert counts[0] == counts[1] <= 2, counts


class _PerBatch(torch.utils._python_dispatch.TorchDispatchMode):
    """The host reads (``SYNC_OPS``) and the copies between devices that one ``next()`` dispatches."""

    def __init__(self):
        super().__init__()
        self.reads, self.moves = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tensors = [t for t in (*args, out) if isinstance(t, torch.Tensor)]
        self.reads += func._schema.name in SYNC_OPS
        self.moves += (
            func._schema.name in ("aten::_to_copy", "aten::copy_")
            and len({t.device for t in tensors}) > 1
        )
        return out


def _per_batch(batches) -> list[tuple[int, int]]:
    """(host reads, device copies) of each batch of ``batches``; the first also builds the epoch."""
    counts = []
    while True:
        mode = _PerBatch()
        with mode:
            batch = next(batches, None)
        if batch is None:
            return counts
        counts.append((mode.reads, mode.moves))


@pytest.mark.parametrize("storage", ["meta", "cpu"], ids=["resident", "streamed"])
@pytest.mark.parametrize(
    "augment",
    [{"crop": {"p": 1.0, "padding": 2}, "hflip": {"p": 0.5}}, {"p": 0.5, "crop": {"p": 0.7}}],
    ids=["byte-crop-flip", "gated"],
)
def test_loader_batches_never_wait_on_the_host(storage, augment):
    """An epoch of augmented, alternately flipped, sharded batches (from its start or resumed) reads
    nothing back, and copies nothing from the host per batch but a streamed batch itself. The delivery
    device is 'meta' (shapes, no data): every copy to it is an op, where a CPU→CPU one would be none."""
    data = image_set(n=100)
    aug = build_augment(AugmentConfig.model_validate(augment), (3, 12, 12))
    ld = DeviceLoader(
        data, fit_stats(data.x, "standard"), 16, "meta", shuffle=True, drop_last=True,
        augment=aug, seed=1, rank=1, world=2, storage=storage,
    )  # fmt: skip
    ld.alternate_flip = True
    # once per epoch, to the device: a resident split's order (and its flip bits, drawn once); a streamed
    # one's flips (its order and bits stay on the host); then per batch nothing, or a streamed x and y
    built, per_batch = ([2, 1, 1], 0) if not ld.stream else ([1, 1, 1], 2)
    for epoch, start in ((0, 0), (1, 0), (2, 1)):
        counts = _per_batch(ld.epoch(epoch, start))
        assert counts == [(0, built[epoch] + per_batch)] + [(0, per_batch)] * (len(ld) - start - 1)


class _DeviceReads(torch.utils._python_dispatch.TorchDispatchMode):
    """The reads (``SYNC_OPS``) of a tensor off the host: what would make the host wait for a GPU. Reads of
    host tensors (kornia draws its parameters on the host) wait for nothing."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        on_device = any(isinstance(t, torch.Tensor) and t.device.type != "cpu" for t in args)
        self.count += func._schema.name in SYNC_OPS and on_device
        return func(*args, **(kwargs or {}))


BATCH_OPS = {
    "randaugment": {"randaugment": {"num_ops": 2}},
    "trivialaugment": {"trivialaugment": {"p": 0.5}},
    "autoaugment": {"autoaugment": {"p": 0.5}},
    "erasing": {"erasing": {"p": 0.5}},
    "mixup-cutmix": {"mixup": {"p": 0.5}, "cutmix": {"p": 0.5}},
    "all": {"crop": {"p": 1.0}, "randaugment": {"num_ops": 1}, "trivialaugment": {"p": 0.5},
            "autoaugment": {"p": 0.5}, "erasing": {"p": 0.5}, "mixup": {"p": 1.0}, "cutmix": {"p": 1.0}},
}  # fmt: skip


# A batch of 32 has a share for each candidate of a per-sample policy (PerSampleChoice: RandAugment's 15
# operations, TrivialAugment's 12, AutoAugment's 25 CIFAR-10 sub-policies), so every one of them runs in every
# batch. On 'meta' each op costs its Python shape logic, whatever the batch size: the cost is the number of
# candidates run, hence few batches of a batch that holds them all (80 images: 2 an epoch, 16 dropped).
OPS_BATCH = 32


# The ops run on the batch the loader gathered: a streamed one (host storage) reaches them as the same uint8
# tensor on the device as a resident one, so each op alone runs on a resident split. What the storage changes
# runs under both: every op together after a streamed gather, and mixup/cutmix's draws, moved once per epoch.
OPS_STORAGE = [(name, "meta") for name in BATCH_OPS] + [("all", "cpu"), ("mixup-cutmix", "cpu")]


@pytest.mark.parametrize(
    "name, storage",
    [
        pytest.param(name, storage, id=f"{name}-{'resident' if storage == 'meta' else 'streamed'}")
        for name, storage in OPS_STORAGE
    ],
)
def test_batch_ops_never_read_the_device(name, storage):
    """Each batch-level op (RandAugment, TrivialAugment, AutoAugment, erasing, mixup, cutmix) on batches
    delivered to the 'meta' device reads nothing from it — a read there would also fail outright. Mixup and
    cutmix alone add no host copy per batch either: their draws go to the device once per epoch."""
    data = image_set(n=80)
    cfg = AugmentConfig.model_validate(BATCH_OPS[name])
    ld = DeviceLoader(
        data, fit_stats(data.x, "standard"), OPS_BATCH, "meta", shuffle=True, drop_last=True,
        augment=build_augment(cfg, (3, 12, 12)), seed=1, storage=storage, mix=build_mix(cfg, (3, 12, 12), 4),
    )  # fmt: skip
    ops = ld.augment.modules() if ld.augment is not None else []
    choices = [len(m.candidates) for m in ops if isinstance(m, PerSampleChoice)]
    assert max(choices, default=0) <= OPS_BATCH  # every candidate runs in every batch
    # an epoch from its start, and one resumed at its last batch
    for epoch, start in ((0, 0), (1, 1)):
        batches = ld.epoch(epoch, start)
        for _ in range(len(ld) - start):
            mode = _DeviceReads()
            with mode:
                x, y = next(batches)
            assert mode.count == 0 and x.shape == (OPS_BATCH, 3, 12, 12), name
            mixed = ld.mix is not None  # labels as targets N×K
            assert y.shape == ((OPS_BATCH, 4) if mixed else (OPS_BATCH,))
            assert y.is_floating_point() == mixed
    if name == "mixup-cutmix":
        per_batch = 0 if not ld.stream else 2  # a streamed batch's x and y
        assert _per_batch(ld.epoch(2))[1:] == [(0, per_batch)] * (len(ld) - 1)
