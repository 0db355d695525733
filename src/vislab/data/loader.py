"""Device-resident batches: the whole split is one uint8 tensor on the training device; each batch is
index-gathered, augmented and normalised there — no per-sample Python, no worker processes.

When a split does not fit the GPU (``data.device``: see ``vislab.training.runtime.resolve_data_device``)
it stays in host memory and each batch is gathered into pinned memory and copied with
``non_blocking=True``, so the copy overlaps the previous step's GPU work.

The host never waits on the device inside an epoch: its order (the seeded permutation, this rank's
shard), with ``alternate_flip`` its mirror mask, and with mixup/cutmix their draws are built once when
the epoch starts — drawn by a seeded CPU generator, so every device sees the same batches, and moved in
one asynchronous copy from pinned memory — and each batch is a slice of them. Random crops and flips
draw on the batch's device.

Hot path: random crop (translate) and flip are exact on integers, so when the augmentation is made of
them only the same ``RandomCropPad``/``RandomFlip`` modules run on the uint8 bytes (4× less memory
traffic than floats); then one float conversion and one fused scale-and-shift normalise the batch
(``benchmarks/pipeline.py`` measures it).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import torch

from vislab.data.augment import BatchAugment, RandomFlip, flip_where
from vislab.data.crop import RandomCropPad, centre_crop
from vislab.data.mix import BatchMix
from vislab.data.preprocess import NormStats, apply_stats
from vislab.data.types import ArraySet


def to_tensor(data: ArraySet, device: torch.device | str) -> torch.Tensor:
    """uint8 N×H×W×C → uint8 N×C×H×W (kept as bytes: 4× less memory than float), or float N×D."""
    x = torch.from_numpy(np.ascontiguousarray(data.x))
    if data.is_image:
        x = x.permute(0, 3, 1, 2).contiguous()
    return x.to(device)


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device`` without making the host wait: a host tensor bound for a GPU is copied from
    pinned memory with ``non_blocking=True`` (a pageable copy would synchronise)."""
    if t.device == device:
        return t
    if t.device.type == "cpu" and device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def byte_ops(augment: torch.nn.Module | None) -> list[torch.nn.Module] | None:
    """The ops of ``augment`` if they may run on uint8 images (crop/flip only, every sample augmented)."""
    if augment is None:
        return []
    if (
        isinstance(augment, BatchAugment)
        and augment.p >= 1
        and all(type(op) in (RandomCropPad, RandomFlip) for op in augment.ops)
    ):
        return list(augment.ops)
    return None


class DeviceLoader:
    """Iterate (x, y) batches of one split. ``rank``/``world`` shard every epoch's permutation (DDP).

    ``device``: where batches are delivered. ``storage``: where the split lives (default: ``device``);
    a CPU storage for a CUDA device streams batches through pinned memory.
    ``alternate_flip``: mirror each training image in every other epoch (a fixed random half of the
    images in even epochs, the other half in odd ones) instead of flipping by coin toss.
    ``size``: the model's input size (``augment.crop.size``): batches not cropped by ``augment`` are
    centre-cropped to size×size — evaluation sees the centre of what training crops at random.
    ``mix``: mixup/cutmix of each epoch's normalised batches (``augment.mixup`` / ``augment.cutmix``);
    their labels then come as targets N×K (float) instead of class indices N.
    """

    def __init__(
        self,
        data: ArraySet,
        stats: NormStats,
        batch_size: int,
        device: torch.device | str = "cpu",
        shuffle: bool = False,
        drop_last: bool = False,
        augment: torch.nn.Module | None = None,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        storage: torch.device | str | None = None,
        size: int | None = None,
        mix: BatchMix | None = None,
    ):
        if isinstance(augment, BatchAugment) and not augment.augments:
            augment = None  # augment.p=0: the unaugmented path, bit for bit (not the float one's rounding)
        self.device = torch.device(device)
        self.storage = torch.device(storage) if storage is not None else self.device
        self.stream = self.storage != self.device
        self.x = to_tensor(data, self.storage)
        self.y = torch.from_numpy(data.y).to(self.storage)
        self.is_image = data.is_image
        self.stats, self.batch_size = stats, batch_size
        self.shuffle, self.drop_last, self.augment = shuffle, drop_last, augment
        self.seed, self.rank, self.world = seed, rank, world
        self.size, self.mix = size, mix
        self.index: torch.Tensor | None = None  # the samples iterated (None: all), `unaugmented`
        self.channels_last = False
        self.alternate_flip = False
        self.balanced = (
            False  # train.sampler=balanced: each epoch drawn with replacement, classes even
        )
        self._labels = data.y  # on the host: the classes' members for `balanced`
        self._stats = stats.to(self.device)
        self._byte_ops = byte_ops(augment)
        if stats.mode == "standard" and self.is_image:  # (x/255 − mean)/std = x·scale + shift
            std, mean = self._stats.std.view(1, -1, 1, 1), self._stats.mean.view(1, -1, 1, 1)
            self._scale, self._shift = 1 / (255 * std), -mean / std
        else:
            self._scale = self._shift = None

    @property
    def n_samples(self) -> int:
        """Samples this rank sees per epoch."""
        n = len(self.y) if self.index is None else len(self.index)
        return n // self.world if self.world > 1 else n

    def __len__(self) -> int:
        n = self.n_samples
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch: int, rank: int | None = None) -> torch.Tensor:
        """This rank's (or ``rank``'s) sample order for ``epoch`` (the same on every rank before sharding),
        on the storage device. Drawn on the host by a generator seeded with (seed, epoch) — the same
        order on every device, after any resume — and moved there in one asynchronous copy."""
        rank = self.rank if rank is None else rank
        n = len(self.y) if self.index is None else len(self.index)
        if self.shuffle and self.balanced:
            idx = self._balanced_draw(n, epoch)
        elif self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            idx = torch.randperm(n, generator=g)
        else:
            idx = torch.arange(n)
        # equal shards: drop the tail so every rank runs the same number of steps
        if self.world > 1:
            idx = idx[: self.n_samples * self.world][rank :: self.world].contiguous()
        idx = to_device(idx, self.storage)
        return idx if self.index is None else self.index.index_select(0, idx)

    def _balanced_draw(self, n: int, epoch: int) -> torch.Tensor:
        """``n`` host indices for ``epoch`` drawn with replacement (``train.sampler=balanced``): a class
        uniformly among those the split holds, then one of its samples uniformly. Seeded by (seed, epoch)
        through numpy's SeedSequence, as the mixup draws: neighbouring epochs draw unrelated samples."""
        rng = np.random.default_rng([self.seed, epoch])
        members = np.argsort(self._labels, kind="stable")
        counts = np.bincount(self._labels)
        counts = counts[counts > 0]
        which = rng.integers(len(counts), size=n)
        within = (rng.random(n) * counts[which]).astype(np.int64)
        return torch.from_numpy(members[(np.cumsum(counts) - counts)[which] + within])

    def trained_indices(self, epoch: int) -> torch.Tensor:
        """The samples ``epoch`` trains on, over all ranks, in order: each rank's share without the last
        partial batch that ``drop_last`` leaves out."""
        per_rank = len(self) * self.batch_size if self.drop_last else self.n_samples
        return torch.cat([self.order(epoch, r)[:per_rank] for r in range(self.world)]).sort()[0]

    def _flip_bits(self) -> torch.Tensor:
        """One fixed random bit per sample (seeded): which half of the split is mirrored in even epochs."""
        if getattr(self, "_bits", None) is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + 12345)
            bits = torch.randint(0, 2, (len(self.y),), generator=g, dtype=torch.uint8)
            self._bits = to_device(bits, self.storage)
        return self._bits

    def flips(self, order: torch.Tensor, epoch: int) -> torch.Tensor | None:
        """Which samples of ``order`` ``alternate_flip`` mirrors in ``epoch`` (a bool mask on the delivery
        device), or None when it mirrors none: those whose bit differs from the epoch's parity."""
        if not (self.alternate_flip and self.is_image):
            return None
        return to_device(self._flip_bits().index_select(0, order) != epoch % 2, self.device)

    def _gather(
        self, idx: torch.Tensor, flip: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``idx`` of the split on the delivery device (index_select: far cheaper than ``x[idx]``),
        mirrored where ``flip`` is true."""
        idx = idx.to(self.storage)  # a no-op for the batches of `epoch`: their order lives there
        if not self.stream:
            x, y = self.x.index_select(0, idx), self.y.index_select(0, idx)
        else:  # host split, GPU training: gather into pinned memory, copy asynchronously
            pin = self.device.type == "cuda"
            x = torch.empty((len(idx), *self.x.shape[1:]), dtype=self.x.dtype, pin_memory=pin)
            y = torch.empty(len(idx), dtype=self.y.dtype, pin_memory=pin)
            torch.index_select(self.x, 0, idx, out=x)
            torch.index_select(self.y, 0, idx, out=y)
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if flip is not None:
            x = flip_where(x, flip)
        return x, y

    def batch(
        self, idx: torch.Tensor, augment: bool = True, flip: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples ``idx``: gathered, augmented (unless ``augment=False``; ``flip``: the samples
        ``alternate_flip`` mirrors, see :meth:`flips`) and normalised, on ``device``."""
        x, y = self._gather(idx, flip if augment else None)
        if not self.is_image:
            return apply_stats(x, self._stats), y
        aug = self.augment if augment else None
        if aug is None:
            x = centre_crop(x, self.size)  # a view; a no-op without a crop size
        elif self._byte_ops is not None:  # crop/flip on bytes
            for op in self._byte_ops:  # RandomCropPad / RandomFlip work on any dtype
                x = op(x)
            aug = None
        fmt = self._memory_format()
        if self._scale is not None and aug is None:
            x = torch.empty(x.shape, device=x.device, memory_format=fmt).copy_(x)
            x = x.mul_(self._scale).add_(self._shift)
        else:
            x = x.float().div_(255)
            if aug is not None:
                x = aug(x)
            x = apply_stats(x, self._stats).contiguous(memory_format=fmt)
        return x, y

    def _memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def unaugmented(self, batch_size: int, index: torch.Tensor | None = None) -> DeviceLoader:
        """The same split (the same tensors, no copy), whole (or only the samples ``index``) and in order,
        without augmentation: for scoring it."""
        view = copy.copy(self)
        view.index = None if index is None else index.to(self.storage)
        view.batch_size, view.shuffle, view.drop_last, view.rank, view.world = (
            batch_size,
            False,
            False,
            0,
            1,
        )
        view.augment, view._byte_ops, view.alternate_flip, view.mix = None, [], False, None
        view.balanced = False
        return view

    def mixes(self, n: int, epoch: int) -> torch.Tensor | None:
        """The mixup/cutmix draws of ``n`` samples of ``epoch`` on the delivery device (None without
        ``mix``): drawn from (seed, epoch, rank) — the same after any resume — and moved in one copy."""
        if self.mix is None:
            return None
        return to_device(self.mix.draws(n, (self.seed, epoch, self.rank)), self.device)

    def epoch(
        self, epoch: int = 0, start_step: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """This rank's batches of ``epoch``, from step ``start_step`` on (a resumed epoch gets the same
        remaining batches). The order, flips and mixes are built once; each batch is a slice of them, so
        the loader copies nothing from the host per batch and reads nothing back (kornia's ops copy the
        parameters they draw on the host without waiting)."""
        idx = self.order(epoch)
        flips = self.flips(idx, epoch)
        mixes = self.mixes(len(idx), epoch)
        bs = self.batch_size
        for step in range(start_step, len(self)):
            rows = slice(step * bs, (step + 1) * bs)
            x, y = self.batch(idx[rows], flip=None if flips is None else flips[rows])
            if mixes is not None:
                x, y = self.mix(x, y, mixes[rows])
                x = x.contiguous(memory_format=self._memory_format())
            yield x, y

    def __iter__(self):
        return self.epoch(0)
