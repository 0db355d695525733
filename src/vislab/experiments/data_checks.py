"""A suite's runs, or a sweep's base and the models its space draws, checked against their data before
anything trains, as a run's set-up checks them
(training/parts.py ``build_parts``): the data read (each distinct data section once, never downloaded),
the input shape its augmentation crop gives (``InputSpec.build``), ZCA's size on that input, and the
model built for that shape on the CPU, without pretrained weights, and checked on the trainer's dummy
batch (each distinct model once per input shape)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from vislab.config import Config, DataConfig
from vislab.data import load_splits
from vislab.data.crop import model_input_shape
from vislab.data.download import may_download
from vislab.data.input_spec import InputSpec
from vislab.data.preprocess import NormStats, zca_too_large
from vislab.data.types import Splits
from vislab.errors import DataError, UserError
from vislab.models import build_model, skip_pretrained
from vislab.models.options import cropped_input
from vislab.models.registry import code_of
from vislab.training.model_checks import check_output

_CPU = torch.device("cpu")


class DataChecks:
    """The mistakes of runs' configs that only their data shows (an ``augment.crop.size`` larger than the
    images, ZCA on samples too large for it, a ``model.patch_size`` that does not divide them, a model
    whose output does not fit them),
    each data section read once and each model built once per input shape.

    ``unread``: whether data that cannot be read (and that the run would not download) is a mistake too
    — for a dry run, which says how the run would end — or left to the runner, which stops the suite at
    the first run on it and keeps the finished runs of other data. ``notes``: whether reading the data
    shows its split notes (a sweep's check leaves them to its trials). ``crop_note``: said after a crop
    the images cannot give (a suite's: where its crop size is set)."""

    def __init__(self, unread: bool = False, notes: bool = True, crop_note: str = ""):
        self.unread, self.notes, self.crop_note = unread, notes, crop_note
        self._data: dict[str, tuple[tuple[int, ...], int] | UserError] = {}
        self._models: dict[tuple, str] = {}

    def mistake(self, cfg: Config) -> str:
        """What is wrong with ``cfg`` on its data ("" when nothing is, or when its data is not read)."""
        found = self._read(cfg.data, cfg.train.seed)
        if isinstance(found, DataError) and (not self.unread or may_download(cfg.data)):
            return ""  # the runner meets it, or the run would download the data first
        if isinstance(found, UserError):
            return str(found)
        sample_shape, num_classes = found
        try:
            model_input_shape(cfg.augment, sample_shape)
        except UserError as e:
            return f"{e}{self.crop_note}"
        try:
            spec = InputSpec.build(cfg.augment, sample_shape, NormStats("none"), cfg.train.tta)
        except UserError as e:
            return str(e)
        if cfg.data.normalize == "zca" and (too_large := zca_too_large(spec.input_shape)):
            return too_large  # fitted on the model's input: the centre crop (data.prepare_data)
        side = min(spec.sample_shape[-2:]) if spec.is_image else 0  # a crop's hints name the crop
        key = (cfg.model.model_dump_json(), spec.input_shape, num_classes, spec.crop_size, side)
        if key not in self._models:
            with cropped_input(spec.crop_size, side):
                self._models[key] = _model_mistake(cfg, spec.input_shape, num_classes)
        return self._models[key]

    def given(self, data: DataConfig, splits: Splits) -> None:
        """Take ``splits``, ``data`` as its caller already read it, instead of reading it again."""
        self._data[data.model_dump_json()] = (splits.sample_shape, splits.num_classes)

    def _read(self, data: DataConfig, seed: int) -> tuple[tuple[int, ...], int] | UserError:
        """(sample shape, number of classes) of ``data`` (read once), or why it cannot be read."""
        key = data.model_dump_json()
        if key not in self._data:
            try:  # as a run reads it, but never downloading: a dry run writes nothing
                splits = load_splits(
                    data.model_copy(update={"download": False}), seed, notes=self.notes
                )
                self._data[key] = (splits.sample_shape, splits.num_classes)
            except UserError as e:  # kept without its frames (and the arrays they hold)
                self._data[key] = e.with_traceback(None)
        return self._data[key]


def _model_mistake(cfg: Config, input_shape: tuple[int, ...], num_classes: int) -> str:
    """Why ``cfg``'s model cannot be built for inputs of ``input_shape`` or does not map the trainer's
    dummy batch to logits (``check_output``), or ""; the caller's random state is kept."""
    try:
        with torch.random.fork_rng(devices=[]), skip_pretrained(), _one_thread():
            torch.manual_seed(cfg.train.seed)  # the model's init, as the trainer seeds it
            model = build_model(cfg.model.name, input_shape, num_classes, **cfg.model.kwargs())
            code = code_of(cfg.model.name)
            check_output(model, cfg.model.name, input_shape, num_classes, _CPU, code=code)
    except UserError as e:
        return str(e)
    except Exception as e:  # the run would fail with it as it starts
        shape = "×".join(map(str, input_shape))
        return f"building model {cfg.model.name} for the data's {shape} inputs failed: {type(e).__name__}: {e}"
    return ""


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Within this block torch computes on one CPU thread: a dummy batch of 2 is no work to share, and the
    threads' hand-offs cost ten times the sums on a busy machine (2 s instead of 0.2 s for 11 small ViTs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
