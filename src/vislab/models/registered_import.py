"""A registered model's module imported again in a new process, so that a finished run whose model was
registered with ``@vislab.register_model`` in the user's own module reopens: under the trust rules of a
file model (:mod:`vislab.models.user`): the module's file must be the one the run recorded, or the user
passes ``trust_code``."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any

from vislab.models.code_errors import code_failed
from vislab.models.source_imports import own_imports_in
from vislab.models.user import cwd_importable, exec_as, module_origin


def import_registered(where: str, record: dict[str, Any], trust_code: bool = False) -> str:
    """Import the module of a class or builder that a run recorded as registered under a name in another
    process (``where``: ``module.Name``, its ``model_code.object``), so that its ``@vislab.register_model``
    registers it again. As for a file model, code runs only with ``trust_code`` or when what is found is
    what the run recorded: a top-level module whose file's sha256 is ``module_sha256``
    (:func:`_not_recorded`). Returns "" once imported or where there is no module to import
    (``__main__``'s class), else why not and what to do (sentences, each after a space)."""
    module, _, attr = where.rpartition(".")
    if not module or module == "__main__" or not all(p.isidentifier() for p in module.split(".")):
        return ""
    origin = module_origin(module)
    reference = f"model.name={module}:{attr}"
    if not isinstance(origin, Path):
        return (
            f" Its module {module} cannot be imported here (looked on sys.path and in the current "
            f"directory, {Path.cwd()}): add the folder that holds it to PYTHONPATH (or run from that "
            f"folder) and vislab imports it, which registers it again; trained with {reference} "
            f"the run reopens wherever {module} can be imported."
        )
    source = origin.read_bytes()  # what is checked is what runs: the file is not read again
    if not trust_code and (why := _not_recorded(module, origin, source, record)):
        return (
            f" Its module {module} is at {origin}, but {why}: not imported, as vislab never runs code "
            f"without your consent. If you trust it, pass --trust-code (Python: trust_code=True)."
        )
    try:
        with cwd_importable(module):
            if trust_code:
                importlib.import_module(module)
            else:
                exec_as(module, origin, source)
    except Exception as e:
        raise code_failed(reference, e, "while importing it", [origin]) from None
    return ""


def _not_recorded(module: str, path: Path, source: bytes, record: dict[str, Any]) -> str:
    """Why ``module`` (its file at ``path``, its bytes ``source``) may not be imported without --trust-code
    (:func:`import_registered`); "" where its file is the one the run recorded (``module_sha256``)."""
    if "." in module:  # importing it runs its packages' __init__ files, which no hash covers
        return "it is in a package, whose __init__ files would run too and which no hash covers"
    if not record.get("module_sha256"):  # trained before vislab 0.2.0
        return "the run recorded no hash of its file, so vislab cannot check it is the code it trained with"
    if hashlib.sha256(source).hexdigest() != record["module_sha256"]:
        return "its file changed since training"
    if own := own_imports_in(source, path.parent):  # their code: in no hash the run recorded
        return f"it imports modules of yours ({', '.join(own)}) whose code no hash covers"
    return ""
