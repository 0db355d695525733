"""A run directory as a Python object: :class:`Run` (what ``vislab.train`` and ``vislab.load_run`` return;
its figures: :mod:`vislab.run.figures`).

A ``Run`` reads the files the trainer wrote (config.yaml, metrics.jsonl, summary.json, checkpoints/,
predictions_test.npz) when asked; it holds no model or data itself.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import torch
from pydantic import PlainValidator

from vislab.arguments import Folder, checked, users_frames
from vislab.config import Config, assignments
from vislab.errors import UserError, show_note
from vislab.experiments.results.table import COLUMNS
from vislab.not_a_run import not_a_run
from vislab.run.figures import run_figure
from vislab.run.inputs import file_paths, image_arrays
from vislab.run.scores import run_classes, split_scores
from vislab.training.checkpoint import load_checkpoint, pick_checkpoint
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary

# pandas, matplotlib (~1 s on 2 cores) and vislab.predict / export / explain (they draw figures) are imported
# by the methods that use them ("on use"): opening a run, reading its summary or training one does not wait.
if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from vislab.data.images import ImageLike
    from vislab.export_spec import Exported

_HEADLINE = (  # (summary key, label) shown by the notebook view: what the run is, then the results table's
    ("model", "model"),
    ("data", "data"),
    ("status", "status"),
    *((key, head) for key, head in COLUMNS if key != "run"),
)


class Run:
    """One run directory written by vislab's trainer; it stands for its folder wherever one is taken
    (``os.PathLike``: ``vislab.write_report(run)``, ``Path(run)``).

    >>> run = vislab.load_run("runs/cnn")
    >>> run.summary.test_acc, run.history[["epoch", "val_acc"]].tail(1)
    >>> run.classes                         # ['cat', 'dog', ...]: the model's classes, in order
    >>> run.predict(["cat.png"], top_k=1)   # [[('cat', 0.93)]]
    >>> run.predict_files("photos/")        # a DataFrame: file, predicted, probability, ..., error
    >>> run.model()(run.preprocess(x))      # the network, fed the images as predict prepares them
    >>> run.plot("confusion")               # a matplotlib Figure
    >>> run.explain(["cat.png"])            # its maps over the image (Grad-CAM, rollout, ...): a Figure
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "config.yaml").is_file():
            # a run's checkpoint in it: its config.yaml lost, written again by a resume
            run = RunDir(self.path)
            lost = any((run.ckpt_dir / f).is_file() for f in ("last.pt", "best.pt"))
            raise UserError(run.config_missing() if lost else not_a_run(self.path))

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    def __fspath__(self) -> str:
        return str(self.path)

    def _rows(self) -> list[dict]:
        """metrics.jsonl's rows; a :class:`~vislab.errors.Note` where a finished run's are lost."""
        run = RunDir(self.path)
        rows = run.read_metrics()
        if not rows and (lost := run.rows_lost()):
            show_note(lost)
        return rows

    @property
    @users_frames
    def summary(self) -> RunSummary:
        """summary.json as a typed record (:class:`~vislab.RunSummary`; its fields say what each key
        means): a finished run's final metrics (``status`` "complete": ``run.summary.test_acc``); a run
        that stopped before the end holds its ``status`` ("interrupted", "diverged", "failed"; a sweep's
        trial "pruned"), ``epochs_run``, ``step``, ``best_epoch`` and ``train_time_s``; every field None
        before it writes one. A key chosen by name: ``run.summary["val_pacc"]``; the file's flat object:
        ``run.summary.to_json()``. UserError naming the file and the fix when it cannot be read."""
        return RunDir(self.path).load_summary() or RunSummary()

    @property
    @users_frames
    def classes(self) -> list[str]:
        """The class names, in the order of the model's outputs (what :meth:`predict` names and
        :meth:`evaluate`'s "classes" holds): from summary.json, or the checkpoint's record for a run not
        finished; no model is built. DataError where neither holds them (no checkpoint yet)."""
        return run_classes(self.path)

    @property
    @users_frames
    def config(self) -> Config:
        """The run's validated config (config.yaml); ConfigError naming the file when it cannot be read."""
        return RunDir(self.path).load_config()

    @property
    @users_frames
    def history(self) -> pd.DataFrame:
        """metrics.jsonl as a DataFrame: one row per epoch (epoch, train_loss, train_acc, val_acc, ...)."""
        import pandas as pd  # on use (see the imports)

        return pd.DataFrame(self._rows())

    @checked
    def model(self, *, trust_code: bool = False, checkpoint: str = "best") -> torch.nn.Module:
        """A checkpoint's model, in eval mode: ``checkpoint`` as for :meth:`evaluate`. A model from a user's
        file (``model.name=file.py:Net``) is imported only if the file is the one the run recorded, or
        with ``trust_code=True``.

        It takes what training fed it, not pixels in 0-1: images resized, centre-cropped
        (``augment.crop.size``) and normalised as ``data.normalize`` says (by default standard: each
        channel less the train split's mean, over its std; zca, imagenet or none as the run set), as
        N×C×H×W float32 — :meth:`preprocess` of the images :meth:`predict` takes. Its logits then rank
        the classes as :meth:`predict` does (which also averages ``train.tta``'s views where one is set).

        >>> net = run.model(); net(run.preprocess(x_test[:5])).argmax(1)   # x_test: uint8 N×H×W
        """
        from vislab.predict import load_model  # on use (see the imports)

        return load_model(pick_checkpoint(self.path, checkpoint).loader_target(), trust_code)[0]

    @checked
    def preprocess(self, images: ImageLike | Sequence[ImageLike]) -> torch.Tensor:
        """The batch :meth:`model` takes for these images, as :meth:`predict` prepares them: image files,
        PIL images, arrays or tensors (as :meth:`predict` reads them) resized to the run's images,
        centre-cropped and normalised as in training, N×C×H×W float32; for a model of feature vectors,
        an N×D array of raw features normalised as in training.

        >>> run.model()(run.preprocess(["a.png", x_test[:2]])).argmax(1)   # predict's classes
        """
        # on use (see the imports)
        from vislab.classify import feature_batch, image_shape

        picked = pick_checkpoint(self.path)  # best.pt or last.pt: the run's inputs are the same
        record = load_checkpoint(picked.path).record
        if not record.inputs.is_image:
            return feature_batch(record, images)  # type: ignore[arg-type]
        arrays = image_arrays(images, image_shape(record))
        if not arrays:
            return torch.empty(0, *record.inputs.input_shape)
        return record.inputs.images(arrays)

    @checked
    def predict(
        self,
        images: ImageLike | Sequence[ImageLike],
        top_k: int = 3,
        *,
        trust_code: bool = False,
        checkpoint: str = "best",
    ) -> list[list[tuple[str, float]]]:
        """Top-k (class, probability) pairs, best first (all the classes when ``top_k`` is more), per
        image: image files, PIL images, numpy arrays or torch tensors (uint8 0-255, float 0-1, bool masks,
        16-bit or other ranges rescaled as ``vislab.data.images.to_uint8`` says). An array is one image or
        many by its shape: H×W, H×W×C (C ≤ 4) and 1×H×W are one image; N×H×W×C, N×C×H×W and other 3-D arrays
        N×H×W are N images — but 3×H×W is one C×H×W colour image for a run of colour images, three grey
        images for a run of grey ones, and H×W×C of the run's image side H×W (C not W) is one image, refused
        unless C is 1 or 3 (``vislab.data.images.split_images``). Images are resized to the
        model's input and normalised as in training; an unreadable one raises UserError. For a folder
        (its images named, unreadable files listed), use :meth:`predict_files`. A model of feature
        vectors (circles) takes an N×D array of raw features (or one D-vector). ``checkpoint`` as for
        :meth:`evaluate`.

        >>> run.predict(["a.png", Image.open("b.png"), x_test[:2]], top_k=1)   # 4 lists: x_test is N×H×W
        >>> circles_run.predict([[0.1, -0.2], [0.9, 0.4]])
        """
        # on use (see the imports)
        from vislab.classify import classify, classify_features, converted_note, image_shape
        from vislab.predict import load_model

        if top_k < 1:
            raise UserError(f"top_k must be at least 1, not {top_k}.")
        target = pick_checkpoint(self.path, checkpoint).loader_target()
        model, record = load_model(target, trust_code)
        if not record.inputs.is_image:
            return classify_features(model, record, images, top_k)  # type: ignore[arg-type]
        shape = image_shape(record)
        greys: dict[Path, bool] = {}  # the files' colours, noted
        arrays = image_arrays(images, shape, greys)
        converted_note(greys, shape[0], record.model.name)
        return classify(model, record, arrays, top_k)

    @checked
    def predict_files(
        self,
        paths: Annotated[Folder | Sequence[Folder], PlainValidator(file_paths)],
        top_k: int = 3,
        *,
        trust_code: bool = False,
        checkpoint: str = "best",
    ) -> pd.DataFrame:
        """``vislab predict --csv``'s table for image files and folders (every image in a folder and its
        sub-folders, sorted), a row per image: file, predicted, probability, class_2, probability_2 …
        (up to ``top_k``, at most the model's classes), error — empty, or why that file could not be
        read (the others go on; its class and probability cells empty). ``checkpoint`` as for
        :meth:`evaluate`.

        >>> table = run.predict_files("photos/", top_k=2); table[table.error != ""]
        """
        import pandas as pd  # on use (see the imports)

        from vislab.classify import predict_images, prediction_table

        if top_k < 1:
            raise UserError(f"top_k must be at least 1, not {top_k}.")
        target = pick_checkpoint(self.path, checkpoint).loader_target()
        results = predict_images(target, paths, top_k, trust_code)  # list[Path]: _file_paths
        fields, rows = prediction_table(results)
        return pd.DataFrame(rows, columns=fields)

    @checked
    def evaluate(
        self,
        split: str = "test",
        *,
        trust_code: bool = False,
        checkpoint: str = "best",
        **data_settings: Any,
    ) -> dict:
        """Score a checkpoint on a split of its data: acc, pacc (the mean of the classes' recalls), auc (macro
        one-vs-rest), loss (the mean cross-entropy, as summary.json's test_loss), top5_acc (only for 10
        classes or more, as in summary.json), n, per_class (class name → accuracy, i.e. recall) and, as
        ``vislab eval`` writes them, the tables, plain values (the dict stays JSON-able and comparable):
        under "table" per_class_<split>.csv's rows (class, n, correct, recall, precision, f1;
        ``pd.DataFrame(scores["table"])``), under "confusion" the counts, a row per true class and a
        column per predicted class, both in the order of "classes", the class names
        (confusion_<split>.csv; ``pd.DataFrame(s["confusion"], s["classes"], s["classes"])``).
        ``data_settings`` (``data__root="other/"``, ``train__eval_batch_size=256``) change the data as
        ``vislab eval --set`` does: another copy or version of the dataset, scored with the run's own
        normalisation; the model's options cannot change. ``split="all"``: every sample of the data
        (train, val and test together), e.g. every image of a folder of new images
        (``evaluate(split="all", data__root="new/")``); of the run's own data, a note says it holds
        the images the run trained on.
        ``checkpoint``: "best" (checkpoints/best.pt, the epoch whose val score was best: summary.json's
        test scores are its) or "last" (last.pt, the latest weights: their ``train.ema`` average in a run
        trained with one, as its evaluations scored them). A run with no best.pt yet (stopped
        before its first evaluation on val) is scored on its last.pt, with a ``CheckpointNote`` warning
        (``vislab.errors``) naming the file, its epoch and step.

        >>> run.evaluate("val")["acc"]; run.evaluate(checkpoint="last")["acc"]
        >>> run.evaluate(data__root="data/mnist-c")["acc"]
        >>> run.evaluate("all", data__root="new-photos/")["n"]  # every image of the folder
        >>> pd.DataFrame(run.evaluate("val")["table"]).sort_values("f1")  # the weakest classes first
        """
        return split_scores(self.path, split, assignments(data_settings), trust_code, checkpoint)

    @checked
    def mistakes(
        self, split: str = "test", *, trust_code: bool = False, checkpoint: str = "best"
    ) -> pd.DataFrame:
        """Every wrong prediction of a checkpoint (``checkpoint`` as for :meth:`evaluate`) on a split, most
        confident first: ``vislab eval``'s mistakes_<split>.csv as a DataFrame (file — an image folder's,
        else empty —, index in the split, true, predicted, probability).

        >>> run.mistakes().head(); run.mistakes("val").groupby(["true", "predicted"]).size()
        """
        import pandas as pd  # on use (see the imports)

        from vislab.predict import evaluate_checkpoint, mistakes_table

        target = pick_checkpoint(self.path, checkpoint).loader_target()
        ev = evaluate_checkpoint(target, split, [], None, trust_code, mistakes=0)
        fields, rows = mistakes_table(ev.scored)
        return pd.DataFrame(rows, columns=fields)

    @checked
    def export(
        self,
        fmt: str = "onnx",
        out: Folder | None = None,
        *,
        trust_code: bool = False,
        checkpoint: str = "best",
        force: bool = False,
        opset: int | None = None,
    ) -> Exported:
        """Export a checkpoint (``checkpoint`` as for :meth:`evaluate`) as ``onnx`` (at ``opset``, None:
        torch's default) or ``torchscript`` (checked against PyTorch's outputs) and, beside it and inside
        the model file, the JSON of what inference needs (input shape, normalisation or ZCA, class names)
        and where the weights come from (its ``checkpoint``: file, epoch, step mid-epoch, test accuracy).
        Returns (model file, JSON), an ``Exported`` (``vislab.export_spec``); the default place is
        ``<run>/export/`` (``model_last.onnx`` for ``checkpoint="last"``). A file already at ``out`` is
        replaced only with ``force=True``; a run's own files never.

        >>> model_file, spec = run.export("torchscript")
        """
        from vislab.export import export_run  # on use (see the imports)

        return export_run(
            self.path,
            fmt,
            out,
            trust_code=trust_code,
            checkpoint=checkpoint,
            force=force,
            opset=opset,
        )

    @checked
    def plot(
        self,
        kind: str = "curves",
        split: str = "test",
        *,
        trust_code: bool = False,
        checkpoint: str = "best",
    ) -> Figure:
        """A matplotlib Figure: ``curves`` (loss, accuracy and per-class accuracy per epoch, best.pt's epoch
        marked), or ``confusion``, ``per-class``, ``roc`` on ``split`` (test: from the run's saved
        predictions; other splits are scored anew), or ``boundary``: the decision boundary over
        ``split``'s points (2-D features: circles, RDFIA 1-ab), in raw units as :meth:`predict` takes them,
        or
        ``pos-embed``: a ViT's position embedding and the cosine similarity of its positions (as
        ``vislab figure pos-embed --run`` draws it). ``checkpoint``: the model of every kind but curves,
        as for :meth:`evaluate`; the title names a checkpoint other than the run's best as eval's PNGs do
        ("cnn (last): test").

        The figure is not pyplot's: ``plt.title``, ``plt.savefig`` and ``plt.show()`` act on another
        (empty) figure. A notebook shows it as a cell's last value, or anywhere in a cell with
        ``fig.show()`` or IPython's ``display(fig)``; save it with ``fig.savefig("a.png")``; change it
        through its axes (``fig.axes[0].set_title("x")``).

        >>> fig = run.plot("roc"); fig.axes[0].set_title("ROC"); fig.savefig("roc.png"); fig
        >>> run.plot("confusion", checkpoint="last")
        """
        return run_figure(self.path, kind, split, trust_code, checkpoint)

    @checked
    def explain(
        self,
        images: ImageLike | Sequence[ImageLike],
        method: str | None = None,
        block: int | None = None,
        *,
        target: str | int | None = None,
        trust_code: bool = False,
        checkpoint: str = "best",
    ) -> Figure:
        """What the model looks at, as ``vislab explain`` draws it: a row per image (file paths, folders:
        each image under it, sorted; PIL images or arrays, as :meth:`predict` takes them), the image then
        each map over it, titled with the prediction. ``method``: ``attention`` (each head of ``block``,
        default the last; ViTs), ``rollout`` (ViTs), ``gradcam`` (convolutional networks: the last
        conv feature maps after their activation), ``saliency`` (any model); default rollout for a ViT,
        gradcam for a convolutional network, else saliency; ``block`` alone means attention (a ViT), and
        is refused with any other method. ``target``: the class gradcam and saliency explain, a class name
        or its index (default the predicted; refused with attention and rollout, whose maps are the same
        for every class). ``checkpoint`` as for :meth:`evaluate` (the titles name a last.pt).

        >>> run.explain(["cat.png", x_test[0]], method="saliency", target="cat").savefig("maps.png")
        """
        from vislab.explain import explain_figure  # on use (see the imports)

        at = pick_checkpoint(self.path, checkpoint).loader_target()
        return explain_figure(at, images, method, block, trust_code, target)

    def _repr_html_(self) -> str:
        """The notebook view: the headline metrics as a table and the learning curves inline."""
        page = f"<div><b>vislab run</b> <code>{html.escape(str(self.path))}</code>"
        try:
            s, curves = self.summary, self._rows()
        except UserError as e:  # a damaged summary.json or metrics.jsonl: said where they would be
            return f"{page}<p>{html.escape(str(e))}</p></div>"
        cells = "".join(
            f"<tr><th style='text-align:left'>{label}</th><td>{html.escape(_cell(s[key]))}</td></tr>"
            for key, label in _HEADLINE
            if s.get(key) is not None
        )
        page += f"<table>{cells}</table>" if cells else "<p>(not finished: no summary.json)</p>"
        if curves:
            png = base64.b64encode(self.plot("curves")._repr_png_()).decode()
            page += f"<img src='data:image/png;base64,{png}' alt='learning curves'/>"
        return page + "</div>"


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)
