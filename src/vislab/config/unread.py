"""What a model not trained by an optimizer reads of the config: a model with its own step
(``manual_step``) reads the learning rate alone, one fitted on arrays (``fit_arrays``) no steps at all
(:data:`UNREAD_SECTIONS`, :func:`unread_setting`), and what such a model's unread settings amount to
(:func:`own_step_same_as`)."""

from __future__ import annotations

from typing import Any, Literal

TrainedBy = Literal["optimizer", "fit_arrays", "manual_step"]
# config section → the keys of it still read, for a model not trained by an optimizer: its own step reads
# the (scheduled) learning rate alone; a model fitted on arrays has no steps at all, and is fitted on the
# train split as it is (no augmentation), once: of train.*, it reads what scores, seeds and places the fit
# (training/fitted.py fit_once, scoring.py finish_run) — no epochs, batches, steps, evaluation schedule,
# early stop or weight average. (A train key added to the schema is unread for it until listed here.)
UNREAD_SECTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "manual_step": {"optim": ("lr",)},
    "fit_arrays": {
        "optim": (),
        "schedule": (),
        "augment": (),
        "train": (
            "eval_batch_size",
            "seed",
            "device",
            "threads",
            "track_test",
            "amp",
            "channels_last",
            "cudnn_benchmark",
            "tta",
            "init_from",
            "init_head",
            "freeze",
            "figures",
        ),  # fmt: skip
    },
}


#: the optim.* a hand-written step of plain SGD at optim.lr never reads, as torch.optim makes the same step:
#: its SGD (config.notes.PLAIN_SGD: the settings that plain SGD leaves at their plain values)
OWN_STEP_AS_OPTIM: dict[str, Any] = {"optim.name": "sgd"}

# registered model name → what its own step amounts to, for the comparison tables, which know a run by its
# config and summary.json alone (no model built, torch not loaded). The one table of the kind keyed by a
# name: mlp-scratch's hand-written levels declare they step by plain SGD (models/scratch.py, ``plain_sgd``,
# which tests/test_s27_trained_by.py holds to this entry); a user's own step may be anything.
OWN_STEP_SAME_AS: dict[str, dict[str, Any]] = {"mlp-scratch": OWN_STEP_AS_OPTIM}


def own_step_same_as(model: str | None, trained_by: str) -> dict[str, Any]:
    """The settings that model ``model``, trained as ``trained_by``, never reads but still say what it did,
    as the value its own step amounts to (:data:`OWN_STEP_SAME_AS`: optim.name=sgd for mlp-scratch's
    hand-written levels); {} for any other."""
    return dict(OWN_STEP_SAME_AS.get(model or "", {})) if trained_by == "manual_step" else {}


def unread_setting(key: str, trained_by: str) -> bool:
    """Whether a model trained as ``trained_by`` never reads the dotted config ``key`` (``optim.momentum``
    for a model with its own step)."""
    section, _, leaf = key.partition(".")
    kept = UNREAD_SECTIONS.get(trained_by, {}).get(section)
    return kept is not None and leaf not in kept
