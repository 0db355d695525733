"""What a model.name that names no model gets told: a close name (one differing only in case first),
the timm model of that name, a class or builder of the user's to register again, a file's model.

It imports no other vislab module: the registry passes its names in."""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Collection


def unknown_model(
    name: str,
    models: Collection[str],
    prefixes: Collection[str],
    where: str | None = None,
    module_note: str = "",
) -> str:
    """Why ``name`` names none of ``models`` (nor ``prefix:<name>`` of ``prefixes``), and what to do: a
    close name, the timm model of that name, a class or builder of the user's to register again in this
    process (``where``: the ``module.Name`` a run recorded; ``module_note``: why its module was not
    imported, and what to do, which replaces that advice), a file's model."""
    near = _near(name, models)
    hint = f" Did you mean '{near[0]}'?{timm_note(name)}" if near else timm_note(name)
    attr = (where or "").rpartition(".")[2] or name.removeprefix("user-")
    if where is not None:  # a run's record names the user's class or builder, registered elsewhere
        hint = _registered_elsewhere(
            name, where, f".{module_note}" if module_note else f":{_again(name, attr)}"
        )
    elif name.endswith(".py"):
        hint = f" A model in a file is named with its class or builder: '{name}:Net'."
    elif name.startswith("user-") and not near:  # a model object: registered in its process only
        hint = (
            f" '{name}' was a model object given to vislab.train(model=...) in another Python process: "
            f"register it again first (vislab.register_model('{name}') on your class),{_anywhere(attr)}"
        )
    elif not hint:
        hint = (
            f" If '{name}' is the name you registered a class or builder of yours under "
            f"(vislab.register_model('{name}')) in another Python process, register it again first."
        )
    # not the model objects given to vislab.train(model=...): given as themselves, refused ones too
    names = sorted(n for n in models if not n.startswith("user-"))
    available = [*names, *(f"{p}:<name>" for p in sorted(prefixes))]
    return (
        f"unknown model '{name}'.{hint} Available: {', '.join(available)}; or your own model as "
        f"path/to/file.py:Net or package.module:build."
    )


def _registered_elsewhere(name: str, where: str, what_to_do: str) -> str:
    """The sentences, after a space, for a run trained with the user's class or builder ``where``
    (``module.Name``) registered as ``name`` in another process, then ``what_to_do``."""
    how = (
        "given to vislab.train(model=...)"  # a model object: registered in its process only
        if name.startswith("user-")
        else f"registered as '{name}'"
    )
    return f" The run was trained with {where}, {how} in another Python process{what_to_do}"


def _again(name: str, attr: str) -> str:
    """What reopens the run, after a colon: what works from the command line first (the class in a file,
    trained again); then in Python, for a model object's class or function defined at the top of its
    module (``user-Net``: it is found once its definition ran again), running that again; for any other
    (a nested class's ``user-make.Net``, a name registered with ``@vislab.register_model``), registering
    it again."""
    file = (
        f" from the command line, train it again with model.name=path/to/file.py:{attr} ({attr} put in "
        f"a file), whose runs reopen anywhere; in Python,"
    )
    if name.startswith("user-") and "." not in name.removeprefix("user-"):
        return (
            f"{file} run the definition of {attr} again, as it was then (its notebook cell, or the "
            f"script's code) and reopen the run with vislab.load_run(...), or register it: "
            f"vislab.register_model('{name}') on {attr}."
        )
    return f"{file} register it again first: vislab.register_model('{name}') on {attr}, as it was then."


def _anywhere(attr: str) -> str:
    return (
        f" or put {attr} in a file and train with model.name=path/to/file.py:{attr} to reopen it "
        f"anywhere."
    )


def _near(name: str, models: Collection[str]) -> list[str]:
    """The one of ``models`` close to ``name``: one that differs only in case (``ViT``: vit), else the
    closest, if any."""
    same = [n for n in models if n.lower() == name.lower() and not n.startswith("user-")]
    return same or difflib.get_close_matches(name, list(models), n=1)


def timm_note(name: str) -> str:
    """The sentence, after a space, giving timm's model ``name`` as model.name=timm:NAME (timm's names
    are lower case: ``ResNet34`` too), where timm is installed and has that model; else ""."""
    if not name.isidentifier() or importlib.util.find_spec("timm") is None:
        return ""
    # timm is an optional extra (vislab[timm]): imported only for a model name vislab does not know
    import timm

    name = name.lower()
    return f" timm has a model '{name}': model.name=timm:{name}." if timm.is_model(name) else ""


#: Names the courses and libraries give a model's options, each group one meaning, vislab's names first:
#: an unknown option of one group is offered the group's first name the model takes (:func:`synonym`),
#: before any close spelling (``drop_rate`` is dropout, not ``drop_path``).
_SYNONYMS = (
    ("dropout", "drop_rate", "dropout_rate", "p_dropout", "drop_prob"),
    ("attn_dropout", "attn_drop_rate", "attn_drop", "attention_dropout"),
    ("drop_path", "drop_path_rate", "stochastic_depth"),
    (
        "depth",
        "num_layers",
        "n_layers",
        "nb_layers",
        "nb_blocks",
        "num_blocks",
        "n_blocks",
        "num_encoder_layers",
        "layers",
    ),
    ("num_heads", "heads", "n_heads", "nhead", "nb_heads"),
    ("embed_dim", "hidden_dim", "d_model", "dim", "hidden_size", "emb_size", "hidden", "width"),
    ("mlp_hidden", "mlp_dim", "dim_feedforward", "ffn_dim"),
    ("patch_size", "patch", "patch_dim"),
)

#: What the data give every model, which no model option sets: a library's names for them
DATA_GIVEN = frozenset(
    {
        "in_chans",
        "in_channels",
        "input_channels",
        "img_size",
        "image_size",
        "input_size",
        "num_classes",
        "n_classes",
        "input_shape",
    }
)


def synonym(key: str, options: Collection[str]) -> str | None:
    """The option of ``options`` that means what ``key`` means in a course's or a library's words
    (``drop_rate`` → ``dropout``, ``num_layers`` → ``depth``); None when none does."""
    for group in _SYNONYMS:
        if key.lower() in group:
            return next((o for o in group if o in options and o != key), None)
    return None


def data_given(key: str, by_hand: bool = False) -> str:
    """The sentence, after a space, for an option ``key`` that the data set (channels, image size, class
    count): vislab passes them; ``by_hand``: model info's input and classes, given by flags instead.
    "" for any other key."""
    if key not in DATA_GIVEN:
        return ""
    if by_hand:
        return (
            f" {key} is no model option: the input's channels and size come from --input C×H×W / "
            f"input_shape=(C, H, W), the class count from --classes K / num_classes=K (a run takes "
            f"them from its data). Remove it."
        )
    return (
        f" {key} is no model option: vislab gives every model the data's channel count, image size "
        f"(data.resize sets it) and class count. Remove it."
    )
