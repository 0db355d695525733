"""What a notebook user's own models meet before and after they train: F.dropout left on in eval mode
(every evaluation scores differently) is pointed out in a note, and never for a model deterministic in
eval; a model on the 'meta' device is a UserCodeError naming its parameters and the fix; ``compare`` of a
failed run of a notebook class advises what works once the class is fixed; and a hook's failure before
training words its "run it again" for Python too."""

import json
import linecache
import sys
import types
import warnings

import pytest
import torch

import vislab
from conftest import DROP, cli, one_line, tiny_base, tiny_sets
from vislab.errors import Note, UserCodeError, UserError
from vislab.experiments.results.folders import why_unfinished
from vislab.models import MODELS, unregister_model
from vislab.training.model_checks import check_output

CELL = """
import torch
import torch.nn.functional as F
from torch import nn

from vislab.models.hooks import ModelHooks


class DropNet(nn.Module):
    '''F.dropout with its training=True default: drops in eval mode too.'''

    def __init__(self, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return self.fc(F.dropout(x.flatten(1), 0.5))


class SteadyNet(nn.Module):
    '''Dropout done right: nn.Dropout, and F.dropout given training=self.training.'''

    def __init__(self, num_classes: int):
        super().__init__()
        self.fc, self.drop = nn.Linear(64, num_classes), nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(F.dropout(self.drop(x.flatten(1)), 0.5, training=self.training))


class MetaNet(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(64, num_classes, device="meta")

    def forward(self, x):
        return self.fc(x.flatten(1))


class Boom(nn.Module):
    '''Raises in its 8th training-mode forward: in epoch 2 (5 steps an epoch), after epoch 1's checkpoint.'''

    def __init__(self, num_classes: int):
        super().__init__()
        self.fc, self.calls = nn.Linear(64, num_classes), 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls == 8:
                raise ValueError("boom")
        return self.fc(x.flatten(1))


class BadInit(nn.Module, ModelHooks):
    def __init__(self, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)

    def init_from_data(self, x):
        raise ValueError("bad init")

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


@pytest.fixture
def nb(monkeypatch) -> dict:
    """A notebook's classes: CELL run as a Jupyter cell, in ``__main__``'s namespace, under a file name
    only linecache holds; the model objects registered go when the test ends."""
    main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    name = "/ipykernel_s11/cell1.py"
    linecache.cache[name] = (len(CELL), None, CELL.splitlines(True), name)
    exec(compile(CELL, name, "exec"), vars(main))  # noqa: S102 - the test's own cell
    before = set(MODELS)
    yield vars(main)
    for registered in set(MODELS) - before:
        unregister_model(registered)


def _kw(**changes) -> dict:
    """tiny_base as vislab.train keywords, without its model (the test passes its own)."""
    base = tiny_base(model=DROP, **changes)
    return {f"{s}__{k}": v for s, section in base.items() for k, v in section.items()}


def _notes(model, tmp_path, **kw) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        vislab.train(model=model, out=tmp_path / "run", **_kw(**kw))
    return [one_line(str(w.message)) for w in seen if issubclass(w.category, Note)]


def test_dropout_left_on_in_eval_is_pointed_out_in_a_note(nb, tmp_path):
    notes = [n for n in _notes(nb["DropNet"], tmp_path) if "eval mode" in n]
    assert len(notes) == 1, notes
    assert (
        "model 'user-DropNet' gives different outputs for the same inputs in eval mode" in notes[0]
    )
    assert "F.dropout(x, p, training=self.training)" in notes[0] and "nn.Dropout" in notes[0]


@pytest.mark.parametrize("model", ["SteadyNet", "mlp"])
def test_no_note_for_a_model_deterministic_in_eval(nb, tmp_path, model):
    notes = [n for n in _notes(nb.get(model, model), tmp_path) if "eval mode" in n]
    assert notes == []


def test_the_note_s_forwards_leave_the_rng_and_the_buffers_as_they_were(nb):
    """The RNG and the buffers after the check: as the dummy batch's one eval forward leaves them."""
    model = nb["DropNet"](10)
    torch.manual_seed(3)
    model.eval()(torch.zeros(2, 1, 8, 8))
    rng = torch.get_rng_state()
    model.calls.zero_()
    torch.manual_seed(3)
    with pytest.warns(Note, match="training=self.training"):
        check_output(model, "user-DropNet", (1, 8, 8), 10, torch.device("cpu"), code=None)
    assert torch.equal(torch.get_rng_state(), rng)
    assert model.calls.item() == 1


def test_a_model_on_meta_names_its_parameters_and_the_fix(nb, tmp_path):
    with pytest.raises(UserCodeError) as e:
        vislab.train(model=nb["MetaNet"], out=tmp_path / "run", **_kw())
    message = one_line(str(e.value))
    assert "model 'user-MetaNet': fc.weight, fc.bias are on the 'meta' device" in message, message
    assert "Build it on the CPU" in message and "to_empty(device='cpu')" in message, message


def test_a_model_file_on_meta_exits_2_without_a_traceback(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "meta_net.py").write_text(
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n"
        "    def __init__(self, num_classes):\n        super().__init__()\n"
        "        self.fc = nn.Linear(64, num_classes, device='meta')\n\n"
        "    def forward(self, x):\n        return self.fc(x.flatten(1))\n"
    )
    sets = tiny_sets("model.name=meta_net.py:Net", drop="model.hidden=[32]")
    code, text = cli(capsys, "train", "-q", "--out", "run", "--trust-code", *sets)
    assert code == 2, text
    assert "fc.weight, fc.bias are on the 'meta' device" in one_line(text), text


def test_compare_of_a_failed_notebook_run_advises_what_works_after_the_fix(nb, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="boom"):
        vislab.train(model=nb["Boom"], out=out, **_kw(train__epochs=2))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and (out / "checkpoints" / "last.pt").is_file()
    why = one_line(why_unfinished(summary, out))
    assert "vislab train --resume" not in why, why
    again = f"vislab.train(model=Boom, ..., out={str(out)!r}, overwrite=True)"
    assert f"after fixing Boom (its cell run again), train it anew with {again}" in why, why
    assert "a run does not resume with a redefined Boom" in why, why
    assert (
        f"with Boom unchanged (the fault was elsewhere), vislab.train(out={str(out)!r}, resume=True)"
        in why
    )
    with pytest.raises(UserError) as e:
        vislab.compare(out)
    assert "overwrite=True" in one_line(str(e.value))
    interrupted = one_line(why_unfinished({**summary, "status": "interrupted"}, out))
    python = f"vislab.train(out={str(out)!r}, resume=True)"
    assert interrupted.endswith(  # no command can build a notebook's class: Python's words alone
        f"from its last checkpoint: {python}, in this Python process or one that defines the model as "
        "it was (the command line cannot build a model defined in Python)"
    )


def test_a_hook_failing_before_training_says_run_it_again_in_pythons_words_too(nb, tmp_path):
    with pytest.raises(ValueError, match="bad init") as e:
        vislab.train(model=nb["BadInit"], out=tmp_path / "run", **_kw())
    note = one_line(" ".join(getattr(e.value, "__notes__", [])))
    assert "Nothing was trained" in note, note
    assert "run it again (the same command, or the same vislab.train call)" in note, note
