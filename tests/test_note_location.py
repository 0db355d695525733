"""A note (a ``Note`` warning) names the user's own line, not a line inside vislab: a notebook shows the
cell's call, and ``warnings`` filters by module see the user's module."""

import warnings

import torch

import vislab
from conftest import TINY_DIGITS
from vislab.errors import Note
from vislab.models import build_model


def _notes(call) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w for w in caught if issubclass(w.category, Note)]


def test_a_training_note_points_at_the_callers_line(tmp_path):
    """adam with optim.momentum set: the note of a setting that does nothing, from deep in the trainer."""
    notes = _notes(lambda: vislab.train(out=tmp_path / "run", optim__momentum=0.9, **TINY_DIGITS))
    assert notes, "adam with optim.momentum gives a note"
    assert {w.filename for w in notes} == {__file__}, [(w.filename, w.lineno) for w in notes]


def test_a_weights_note_is_a_note_not_a_print(tmp_path, capsys):
    """A resnet18 stem adapted from RGB weights: a Note at the caller's line (it was printed to stderr,
    past the warnings filters a notebook user sets)."""
    f = tmp_path / "rgb.pth"
    torch.save(build_model("resnet18", (3, 32, 32), 10, cifar_stem=False).state_dict(), f)
    notes = _notes(
        lambda: build_model("resnet18", (1, 28, 28), 10, cifar_stem=False, weights=str(f))
    )
    assert any("adapted from RGB to 1 channel" in str(w.message) for w in notes)
    assert {w.filename for w in notes} == {__file__}
    assert "note:" not in capsys.readouterr().err
