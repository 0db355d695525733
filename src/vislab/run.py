"""A run directory as a Python object: :class:`Run` (what ``vislab.train`` and ``vislab.load_run`` return)
and :class:`SuiteResult` (what ``vislab.run_suite`` returns).

A ``Run`` reads the files the trainer wrote (config.yaml, metrics.jsonl, summary.json, checkpoints/,
predictions_test.npz) when asked; it holds no model or data itself.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import yaml

from vislab.config import Config, build_config
from vislab.errors import UserError
from vislab.experiments.results.table import COLUMNS
from vislab.training.metrics import Metrics, compute_metrics
from vislab.training.rundir import RunDir

# pandas, matplotlib (~1 s on 2 cores) and vislab.predict / export / explain (they draw figures) are imported
# by the methods that use them ("on use"): opening a run, reading its summary or training one does not wait.
if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from vislab.data.images import ImageLike

PLOT_KINDS = ("curves", "confusion", "per-class", "roc", "boundary", "pos-embed")
_HEADLINE = (  # (summary key, label) shown by the notebook view: what the run is, then the results table's
    ("model", "model"),
    ("data", "data"),
    ("status", "status"),
    *((key, head) for key, head in COLUMNS if key != "run"),
)


class Run:
    """One run directory written by vislab's trainer.

    >>> run = vislab.load_run("runs/cnn")
    >>> run.summary["test_acc"], run.history[["epoch", "val_acc"]].tail(1)
    >>> run.predict(["cat.png"], top_k=1)   # [[('cat', 0.93)]]
    >>> run.plot("confusion")               # a matplotlib Figure
    >>> run.explain(["cat.png"])            # its maps over the image (Grad-CAM, rollout, ...): a Figure
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "config.yaml").is_file():
            raise UserError(f"'{self.path}' is not a vislab run directory {_what_it_is(self.path)}")

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    @property
    def summary(self) -> dict:
        """summary.json: the final metrics ({} while the run has not finished)."""
        return RunDir(self.path).read_summary() or {}

    @property
    def config(self) -> Config:
        """The run's validated config (config.yaml)."""
        text = (self.path / "config.yaml").read_text()
        return build_config(yaml.safe_load(text) or {}, source=str(self.path / "config.yaml"))

    @property
    def history(self) -> pd.DataFrame:
        """metrics.jsonl as a DataFrame: one row per epoch (epoch, train_loss, train_acc, val_acc, ...)."""
        import pandas as pd  # on use (see the imports)

        return pd.DataFrame(RunDir(self.path).read_metrics())

    def model(self, *, trust_code: bool = False) -> torch.nn.Module:
        """The best checkpoint's model, in eval mode. A model from a user's file (``model.name=file.py:Net``)
        is imported only if the file is the one the run recorded, or with ``trust_code=True``.

        >>> net = run.model(); net(torch.zeros(1, 1, 8, 8)).shape   # torch.Size([1, 10])
        """
        from vislab.predict import load_model  # on use (see the imports)

        return load_model(self.path, trust_code)[0]

    def predict(
        self, images: ImageLike | Sequence[ImageLike], top_k: int = 3, *, trust_code: bool = False
    ) -> list[list[tuple[str, float]]]:
        """Top-k (class, probability) pairs, best first, per image: file paths (a folder: its image files,
        sub-folders too, sorted), PIL images or numpy arrays (H×W, H×W×C or C×H×W; uint8 0-255, float 0-1,
        16-bit or other ranges rescaled as ``vislab.data.images.to_uint8`` says; an N×H×W×C array is N
        images). Images are resized to the model's input and normalised as in training. A model of
        feature vectors (circles) takes an N×D array of raw features (or one D-vector).

        >>> run.predict(["a.png", Image.open("b.png"), x_test[:2]], top_k=1)
        >>> circles_run.predict([[0.1, -0.2], [0.9, 0.4]])
        """
        # on use (see the imports)
        from vislab.data.images import expand_folders, image_array
        from vislab.predict import classify, classify_features, image_shape, load_model

        if top_k < 1:
            raise UserError(f"top_k must be at least 1, not {top_k}.")
        model, record = load_model(self.path, trust_code)
        if not record.inputs.is_image:
            return classify_features(model, record, images, top_k)  # type: ignore[arg-type]
        shape = image_shape(record)
        arrays = [image_array(img, shape) for img in expand_folders(_as_list(images))]
        return classify(model, record, arrays, top_k)

    def evaluate(self, split: str = "test", *, trust_code: bool = False) -> dict:
        """Score the best checkpoint on a split of its data: acc, pacc, auc, n and per-class accuracy.

        >>> run.evaluate("val")["acc"]
        """
        from vislab.predict import score_checkpoint  # on use (see the imports)

        m, names = score_checkpoint(self.path, split, (), trust_code)
        return {
            "acc": m.acc,
            "pacc": m.pacc,
            "auc": m.auc,
            "n": m.n,
            "per_class": dict(zip(names, m.per_class)),
        }

    def export(
        self, fmt: str = "onnx", out: str | Path | None = None, *, trust_code: bool = False
    ) -> tuple[Path, Path]:
        """Export the best checkpoint as ``onnx`` or ``torchscript`` (checked against PyTorch's outputs)
        and, beside it, the JSON of what inference needs (input shape, normalisation or ZCA, class names).
        Returns (model file, JSON); the default place is ``<run>/export/``.

        >>> model_file, spec = run.export("torchscript")
        """
        from vislab.export import export_run  # on use (see the imports)

        return export_run(self.path, fmt, out, trust_code=trust_code)

    def plot(
        self, kind: str = "curves", split: str = "test", *, trust_code: bool = False
    ) -> Figure:
        """A matplotlib Figure: ``curves`` (loss and accuracy per epoch), or ``confusion``, ``per-class``,
        ``roc`` on ``split`` (test: from the run's saved predictions; other splits are scored anew), or
        ``boundary``: the decision boundary over ``split``'s points (2-D features: circles, RDFIA 1-ab), or
        ``pos-embed``: a ViT's position embedding and the cosine similarity of its positions (as
        ``vislab figure pos-embed --run`` draws it).

        >>> run.plot("roc").savefig("roc.png")
        """
        # on use (see the imports)
        from vislab.plotting.runs import (
            confusion_figure,
            curves_figure,
            per_class_figure,
            roc_figure,
        )

        if kind not in PLOT_KINDS:
            raise UserError(f"plot kind '{kind}' is unknown: use one of {', '.join(PLOT_KINDS)}.")
        if kind == "curves":
            rows = RunDir(self.path).read_metrics()
            if not rows:
                raise UserError(
                    f"run '{self.path}' has no metrics.jsonl rows yet: nothing to plot."
                )
            return curves_figure({self.path.name: rows})
        if kind == "boundary":
            return self._boundary(split, trust_code)
        if kind == "pos-embed":
            return self._pos_embed(trust_code)
        m, names = self._scores(split, trust_code)
        title = f"{self.path.name}: {split}"
        if kind == "confusion":
            return confusion_figure(m.confusion, names, title=title)
        if kind == "per-class":
            return per_class_figure(m.per_class, names, title=title)
        return roc_figure(m.roc, names, title=title)

    def _boundary(self, split: str, trust_code: bool) -> Figure:
        from vislab.plotting.boundary import decision_boundary_figure  # on use (see the imports)
        from vislab.predict import split_inputs

        model, record, _, inputs = split_inputs(self.path, split, (), trust_code)
        if record.inputs.sample_shape != (2,):
            raise UserError(
                f"run '{self.path}' takes inputs of shape {record.inputs.sample_shape}: a decision boundary "
                f"needs 2-D features (data.name=circles)."
            )
        x, y = (torch.cat(t) for t in zip(*inputs.epoch(0)))
        names = record.model.class_names
        return decision_boundary_figure(model, x, y, names, title=f"{self.path.name}: {split}")

    def _pos_embed(self, trust_code: bool) -> Figure:
        # on use (see the imports)
        from vislab.explain import position_table
        from vislab.plotting.canvas import drawn_figure

        return drawn_figure(position_table(self.path, trust_code).draw)

    def explain(
        self,
        images: ImageLike | Sequence[ImageLike],
        method: str | None = None,
        block: int | None = None,
        *,
        trust_code: bool = False,
    ) -> Figure:
        """What the model looks at, as ``vislab explain`` draws it: a row per image (file paths, PIL images
        or arrays, as :meth:`predict` takes them), the image then each map over it, titled with the
        prediction. ``method``: ``attention`` (each head of ``block``, default the last; ViTs),
        ``rollout`` (ViTs), ``gradcam`` (convolutional networks), ``saliency`` (any model); default
        rollout for a ViT, gradcam for a convolutional network, else saliency.

        >>> run.explain(["cat.png", x_test[0]], method="saliency").savefig("maps.png")
        """
        from vislab.explain import explain_figure  # on use (see the imports)

        return explain_figure(self.path, _as_list(images), method, block, trust_code)

    def _scores(self, split: str, trust_code: bool) -> tuple[Metrics, list[str]]:
        from vislab.predict import score_checkpoint  # on use (see the imports)

        npz = self.path / "predictions_test.npz"
        if split != "test" or not npz.is_file():
            return score_checkpoint(self.path, split, (), trust_code)
        with np.load(npz) as f:
            probs, labels = f["probs"], f["labels"]
        names = list(self.summary.get("test_per_class") or {}) or [
            str(i) for i in range(probs.shape[1])
        ]
        logits = torch.log(torch.from_numpy(probs).float().clamp_min(1e-12))
        return compute_metrics(
            logits, torch.from_numpy(labels), probs.shape[1], with_roc=True
        ), names

    def _repr_html_(self) -> str:
        """The notebook view: the headline metrics as a table and the learning curves inline."""
        s = self.summary
        cells = "".join(
            f"<tr><th style='text-align:left'>{label}</th><td>{html.escape(_cell(s[key]))}</td></tr>"
            for key, label in _HEADLINE
            if s.get(key) is not None
        )
        page = f"<div><b>vislab run</b> <code>{html.escape(str(self.path))}</code>"
        page += f"<table>{cells}</table>" if cells else "<p>(not finished: no summary.json)</p>"
        if RunDir(self.path).read_metrics():
            png = base64.b64encode(self.plot("curves")._repr_png_()).decode()
            page += f"<img src='data:image/png;base64,{png}' alt='learning curves'/>"
        return page + "</div>"


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _as_list(images: ImageLike | Sequence[ImageLike]) -> list[ImageLike]:
    """One image or many as a list; an N×H×W×C array is N images."""
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    if isinstance(images, (str, Path)) or not isinstance(images, Sequence):
        return [images]  # type: ignore[list-item]
    out: list[ImageLike] = []
    for img in images:
        out.extend(list(img) if isinstance(img, np.ndarray) and img.ndim == 4 else [img])
    return out


@dataclass
class SuiteResult:
    """What ``vislab.run_suite`` returns: the comparison ``table`` (one row per finished run, columns as
    results.csv) and each finished run by name."""

    path: Path
    table: pd.DataFrame
    runs: dict[str, Run] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return f"<div><b>suite</b> <code>{html.escape(str(self.path))}</code>{self.table.to_html()}</div>"


def _what_it_is(path: Path) -> str:
    """Why ``path`` is not a run, and what to give instead: a suite's or sweep's runs lie in it."""
    for info, kind, runs, table in (
        ("suite.json", "suite", path, "results.csv"),
        ("sweep.json", "sweep", path / "trials", "trials.csv"),
    ):
        if (path / info).is_file():
            found = sorted(p.parent.name for p in runs.glob("*/config.yaml"))
            example = (runs / found[0]).as_posix() if found else f"{runs.as_posix()}/RUN"
            return (
                f"but a {kind} folder (it holds {info}): its runs are '{runs.as_posix()}/<run>' and its "
                f"table '{(path / table).as_posix()}'. Give a run, e.g. vislab.load_run('{example}'), or read "
                f"the table with pandas.read_csv."
            )
    return (
        "(it holds no config.yaml): give the folder a run was trained into (`vislab train --out DIR`, "
        "`vislab.train(out=DIR)`)."
    )
