"""A registered model's module imported again for a finished run (models/registered_import.py)."""

import hashlib
import importlib.util
import sys

import pytest

from vislab.errors import UserCodeError
from vislab.models.registered_import import import_registered


def recorded_module(folder, monkeypatch, name, code):
    """``name``.py in ``folder`` (on sys.path) holding ``code``, and a run's record of it as trained."""
    path = folder / f"{name}.py"
    path.write_text(code)
    monkeypatch.syspath_prepend(str(folder))
    return path, {
        "object": f"{name}.Net",
        "module_sha256": hashlib.sha256(code.encode()).hexdigest(),
    }


def test_a_module_that_fails_to_import_again_leaves_the_one_imported_earlier(tmp_path, monkeypatch):
    """Its file is the recorded one but fails on import (a package it needs is gone): the module a
    notebook imported earlier stayed out of sys.modules, so what still used it broke too."""
    name = "own_net_s25_fails"
    path, record = recorded_module(tmp_path, monkeypatch, name, "import not_installed_s25\n")
    earlier = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path))
    monkeypatch.setitem(sys.modules, name, earlier)
    with pytest.raises(UserCodeError, match="not_installed_s25"):
        import_registered(f"{name}.Net", record)
    assert sys.modules[name] is earlier


def test_a_module_imported_for_the_first_time_that_fails_is_not_left_half_made(
    tmp_path, monkeypatch
):
    name = "own_net_s25_new"
    code = "x = 1\nraise RuntimeError('broken at import')\n"
    _, record = recorded_module(tmp_path, monkeypatch, name, code)
    with pytest.raises(UserCodeError, match="broken at import"):
        import_registered(f"{name}.Net", record)
    assert name not in sys.modules
