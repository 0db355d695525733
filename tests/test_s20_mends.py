"""Session 20's mends of what earlier sessions left open."""

from __future__ import annotations

import pytest

import vislab
from vislab.errors import ConfigError


def test_python_says_an_option_of_no_model_given_as_the_command_does(tmp_path):
    """Before: vislab.train(model__hidden=[8]) said "model 'cnn' has no option", naming a model the
    user never chose; the command said no model.name was given. Now both say so, before any folder."""
    with pytest.raises(ConfigError) as e:
        vislab.train(data="digits", model__hidden=[8], out=tmp_path / "run")
    said = str(e.value)
    assert "vislab.train arguments" in said and "no model.name was given" in said
    assert "model=" in said  # the fix in Python's words
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="Did you mean 'model.dropout'"):  # a typo: corrected
        vislab.train(data="digits", model__dropuot=0.1, out=tmp_path / "run")
