"""What a model.name that names no model gets told: a close name (one differing only in case first),
the timm model of that name, a class or builder of the user's to register again, a file's model.

It imports no other vislab module: the registry passes its names in."""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Collection


def unknown_model(
    name: str, models: Collection[str], prefixes: Collection[str], where: str | None = None
) -> str:
    """Why ``name`` names none of ``models`` (nor ``prefix:<name>`` of ``prefixes``), and what to do: a
    close name, the timm model of that name, a class or builder of the user's to register again in this
    process (``where``: the ``module.Name`` a run recorded), a file's model."""
    near = _near(name, models)
    hint = f" Did you mean '{near[0]}'?{timm_note(name)}" if near else timm_note(name)
    attr = (where or "").rpartition(".")[2] or name.removeprefix("user-")
    again = (
        f" or put {attr} in a file and train with model.name=path/to/file.py:{attr} to reopen it "
        f"anywhere."
    )
    if where is not None:  # a run's record names the user's class or builder, registered elsewhere
        how = (
            "given to vislab.train(model=...)"  # a model object: registered in its process only
            if name.startswith("user-")
            else f"registered as '{name}'"
        )
        hint = (
            f" The run was trained with {where}, {how} in another Python process: run "
            f"its definition again, as it was then, and register it again first "
            f"(vislab.register_model('{name}') on {attr}),{again}"
        )
    elif name.endswith(".py"):
        hint = f" A model in a file is named with its class or builder: '{name}:Net'."
    elif name.startswith("user-") and not near:  # a model object: registered in its process only
        hint = (
            f" '{name}' was a model object given to vislab.train(model=...) in another Python process: "
            f"register it again first (vislab.register_model('{name}') on your class),{again}"
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
