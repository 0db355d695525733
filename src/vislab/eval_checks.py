"""What ``vislab eval`` (``Run.evaluate``) refuses before scoring a checkpoint: settings that would not
change the scores or would change the model, a data.root its data source never reads or that holds no
class folders, inputs of another shape than the model's, classes the model never saw."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vislab.config import Config, DataConfig
from vislab.config.build import setting
from vislab.config.overrides import parse_value
from vislab.config.reads import READS, get_dotted, reads_files
from vislab.data.image_folders import IMAGE_EXTS
from vislab.data.types import ArraySet
from vislab.errors import UserError
from vislab.models.objects import PREFIX as OBJECT_PREFIX
from vislab.not_a_run import run_of_file
from vislab.training.record import RunRecord
from vislab.training.rundir import RunDir

#: the data settings eval does not read, why, and what to do: the run's preprocessing is part of the model
_RECORDED = (
    "eval normalises the data with the statistics the run recorded (fitted with its data.normalize "
    "and data.zca_epsilon on its train split), which are part of the model. Drop it; to score another "
    "normalisation, train a run with it: vislab train --set {o}."
)
_UNREAD = {
    "data.normalize": _RECORDED,
    "data.zca_epsilon": _RECORDED,
    "data.device": "eval scores on the CPU, with the data there. Drop it.",
}


def given_setting(overrides: Sequence[str], key: str) -> str | None:
    """The last of ``overrides`` that sets ``key``, or None."""
    return next((o for o in reversed(overrides) if o.split("=", 1)[0].strip() == key), None)


def check_data_settings(overrides: Sequence[str], target: str | Path = "RUN") -> None:
    """UserError for the first setting but data.* and train.eval_batch_size (train.threads: how to limit
    the threads instead): the model scores as trained
    (model.name for a run of a Python class: how to score it in Python, :func:`_model_object_fix`);
    one that names no section (``limit_eval=30``) is no config key (:func:`_no_section`); a data.*
    setting eval does not read (:data:`_UNREAD`); a data.root of images without class folders
    (:func:`_check_labelled`)."""
    for o in overrides:
        key = o.split("=", 1)[0].strip()
        if "." not in key:
            raise UserError(_no_section(o, key))
        if key == "train.threads":
            raise UserError(
                f"setting '{o}': eval scores with torch's CPU threads, one per core: on a busy machine "
                f"limit them with OMP_NUM_THREADS=1 vislab eval ... (Python: torch.set_num_threads(1) "
                f"before run.evaluate())."
            )
        if not (key.startswith("data.") or key == "train.eval_batch_size"):
            raise UserError(
                f"setting '{o}': eval scores the checkpoint's own model, whose options cannot change. "
                f"Only data.* (and train.eval_batch_size) settings apply here (--set data.root=DIR / "
                f"data__root=DIR).{_model_object_fix(target) if key == 'model.name' else ''}"
            )
        if key in _UNREAD:
            why = _UNREAD[key].format(o=o)
            raise UserError(f"setting '{o}' (Python: {_python(o)}) changes nothing here: {why}")
    if root := given_setting(overrides, "data.root"):
        _check_labelled(Path(root.split("=", 1)[1].strip()), target)


def check_train_only(overrides: Sequence[str], split: str, own: dict, cfg: Config) -> None:
    """UserError for a data.limit or data.limit_per_class in ``overrides`` other than the run's own
    (``own``: its stored config) where the ``split`` scored is val or test: those keep a part of the train
    split only, so the scores would be the same without it; data.limit_eval samples the scored split."""
    if split not in ("val", "test"):
        return
    for key in ("data.limit", "data.limit_per_class"):
        o = given_setting(overrides, key)
        if o is None or get_dotted(cfg, key) == setting(own, key):
            continue
        raise UserError(
            f"setting '{o}' (Python: {_python(o)}) changes nothing here: {key} keeps a part of the train "
            f"split only, and eval scores the {split} split, so these scores would be the same without "
            f"it. {_sample_fix(o, key, split)}"
        )


def _sample_fix(setting: str, key: str, split: str) -> str:
    """What to give instead of ``setting`` of train-only ``key``: drop it (null), data.limit_eval for a
    sample of ``split`` (a total: data.limit_per_class's N is per class), or --split train."""
    value = setting.partition("=")[2].strip()
    train = 'to score the train split with it: --split train (Python: split="train")'
    if parse_value(value) is None:
        return f"Leave it out; {train}."
    limit_eval = f"data.limit_eval={value}"
    total = " (a total over the classes, not per class)" if key == "data.limit_per_class" else ""
    return (
        f"To score a sample of the {split} split: --set {limit_eval}{total} (Python: "
        f"{_python(limit_eval)}); {train}."
    )


def check_root_read(data: DataConfig, overrides: Sequence[str]) -> None:
    """UserError where ``overrides`` give a data.root the run's data source never reads (digits,
    circles, ``memory:`` arrays: ``config.reads.reads_files``): the scores would be the run's own, named
    as other data's; or another data.* setting that ``data`` makes do nothing (``config.reads.READS``:
    data.image_size off an image folder, data.n_samples off circles, ...)."""
    value = lambda key: getattr(data, key.removeprefix("data."))  # noqa: E731
    for o in overrides:
        key = o.split("=", 1)[0].strip()
        gates = READS.get(key, ()) if key != "data.root" else ()
        if idle := next((i for i in (gate(value) for gate in gates) if i is not None), None):
            raise UserError(
                f"setting '{o}' (Python: {_python(o)}) changes nothing here: with {idle.cause}, "
                f"{idle.why.format(it='it')}, so these scores would be the same without it. Drop it."
            )
    given = given_setting(overrides, "data.root")
    idle = reads_files(value)
    if given is None or idle is None or given_setting(overrides, "data.name") is not None:
        return
    raise UserError(
        f"setting '{given}' changes nothing here: with {idle.cause}, {idle.why.format(it='data.root')}, "
        f"so these would be the run's own scores named as other data's. To score a folder of images "
        f"(one sub-folder per class): --set data.name=folder --set data.root=DIR (Python: "
        f'data__name="folder", data__root=DIR).'
    )


def _model_object_fix(target: str | Path) -> str:
    """For a run whose model was a class given to ``vislab.train(model=...)`` in Python (recorded as
    ``user-<class>``, its summary.json says), which eval cannot import from the command line: how to
    score it in Python, the class registered again under that name. "" for another run or a file of
    none."""
    path = Path(target)
    run = run_of_file(path) if path.is_file() else path
    summary = RunDir(run).read_summary() if run is not None else None
    name = summary.model if summary is not None else None
    if not name or not name.startswith(OBJECT_PREFIX):
        return ""
    cls = name.removeprefix(OBJECT_PREFIX)
    return (
        f" Its model, {name}, was the class {cls} given to vislab.train(model={cls}) in Python, "
        f"which the command line cannot import: score the run in Python, with {cls} defined as it "
        f"trained: vislab.register_model('{name}')({cls}), then vislab.load_run('{run}').evaluate()."
    )


def _check_labelled(root: Path, target: str | Path) -> None:
    """UserError where ``root`` holds images but no folder: no class folders to label them, so nothing
    to score — ``vislab predict`` classifies such images."""
    if not root.is_dir() or any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()):
        return
    images = [p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()]
    if images:
        raise UserError(
            f"data.root '{root}' holds {len(images)} image{'s' if len(images) != 1 else ''} but no "
            f"class folders, so eval has no labels to score them by (it reads one folder per class: "
            f"{root / '<class>'}/*.png). To classify them: vislab predict {target} {root} --csv "
            f"predictions.csv{_predict_files_call(target, root)}."
        )


def _predict_files_call(target: str | Path, root: Path) -> str:
    """`` (Python: vislab.load_run('RUN').predict_files('ROOT'))`` for ``target``: the run folder it is,
    or the one its checkpoint file belongs to (``checkpoint='last'`` for last.pt); "" for a file of no
    run (``not_a_run.run_of_file``)."""
    path = Path(target)
    run = run_of_file(path) if path.is_file() else path
    if run is None:
        return ""
    last = ", checkpoint='last'" if path.is_file() and path.name == "last.pt" else ""
    return f" (Python: vislab.load_run('{run}').predict_files('{root}'{last}))"


def _python(setting: str) -> str:
    """``setting`` (``data.normalize=zca``) in Python's words: ``data__normalize='zca'``."""
    key, _, value = setting.partition("=")
    return f"{key.strip().replace('.', '__')}={parse_value(value.strip())!r}"


def _no_section(setting: str, key: str) -> str:
    """Why ``setting`` (``key=value``) is no config key, in the command's words and Python's: with its
    section when ``key`` is a data.* key (``limit_eval=30`` → data.limit_eval / data__limit_eval)."""
    value = setting.split("=", 1)[1] if "=" in setting else "..."
    if key in DataConfig.model_fields:
        fix = f"data.{key}={value} (Python: data__{key}={value})"
    else:
        fix = "data.root=DIR (Python: data__root=DIR); eval takes data.* settings only"
    return f"'{setting}' is no config key: a config key names its section, e.g. {fix}."


def check_fits(
    target: str | Path, want: tuple[int, ...], got: tuple[int, ...], data_name: str
) -> None:
    """UserError unless this data gives the inputs the checkpoint's model was built for."""
    if got == want:
        return
    shape = lambda s: "×".join(map(str, s))  # noqa: E731
    if len(got) != len(want):
        kinds = {1: "feature vectors", 3: "images"}
        fix = f"Evaluate on {kinds[len(want)]}, as the run trained on"
    elif len(got) == 3 and got[0] != want[0]:
        kind = {1: "grey (1-channel)", 3: "colour (3-channel)"}
        fix = f"Evaluate on {kind.get(want[0], f'{want[0]}-channel')} images, as the run trained on"
    else:
        fix = (
            f"Evaluate on data of that size (the run's own: no data.* overrides), or resize it with "
            f"data.resize={want[-1]} (an image folder: data.image_size={want[-1]})"
        )
    raise UserError(
        f"checkpoint '{target}' was trained on {shape(want)} inputs, but this data ({data_name}) gives "
        f"{shape(got)} inputs. {fix}."
    )


def labels_by_name(
    target: str | Path, record: RunRecord, names: list[str], data: ArraySet, data_name: str
) -> ArraySet:
    """``data`` labelled with the checkpoint's class indices, matched by class name (other data may
    hold the classes in another order, or some of them; names compared NFC-normalised: a name typed or
    stored with combining accents is the same name); UserError for a class the model never saw."""
    want = [unicodedata.normalize("NFC", n) for n in record.model.class_names]
    got = [unicodedata.normalize("NFC", n) for n in names]
    if got == want:
        return data
    unknown = [n for n in got if n not in want]
    if unknown:
        raise UserError(
            f"this data ({data_name}) has classes that checkpoint '{target}' was not trained on: "
            f"{', '.join(map(repr, unknown[:10]))}{' …' if len(unknown) > 10 else ''}. The model knows "
            f"{', '.join(map(repr, want[:20]))}{' …' if len(want) > 20 else ''}: evaluate on data of "
            f"those classes (an image folder's class folders named as they are).{_alike(unknown, want)}"
        )
    index = np.array([want.index(n) for n in got], dtype=np.int64)
    return ArraySet(data.x, index[data.y], data.names, data.origin)


def _alike(unknown: list[str], known: list[str]) -> str:
    """For each name of ``unknown`` that looks like one of ``known`` but is other characters (a
    ligature, a full-width letter, an invisible or no-break space), both as code points."""
    look = lambda n: "".join(  # noqa: E731
        " " if c.isspace() else c
        for c in unicodedata.normalize("NFKC", n)
        if unicodedata.category(c) != "Cf"
    ).strip()
    pairs = [(u, k) for u in unknown for k in known if look(u) == look(k)]
    return "".join(
        f" {ascii(u)} and the model's {ascii(k)} look alike but are other characters."
        for u, k in pairs
    )
