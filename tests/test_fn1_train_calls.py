"""A beginner's vislab.train calls from a notebook: a model given as an instance of torch's own class, as
the config or in quotes, an option left out, a resume of an interrupted or never-saved run, a DataLoader,
and val arrays of one's own (data={"train": ..., "val": ..., "test": ...})."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

import vislab
from conftest import DROP, notebook_cell, one_line, tiny_base
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.errors import DataError, UserError

# the tiny run's config without a model (given as model=) nor epochs (given as epochs= where wanted)
CFG = tiny_base(train__seed=0, model=DROP, train__epochs=DROP)
NAMES = [f"digit{i}" for i in range(10)]


class Net(nn.Module):
    def __init__(self, num_classes: int, input_shape: tuple[int, ...]):
        super().__init__()
        self.fc = nn.Linear(int(np.prod(input_shape)), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


class StopAfterOneEpoch(vislab.Callback):
    def on_epoch_end(self, row: dict) -> None:
        raise KeyboardInterrupt("stopped by hand")


def _error(call, kind=UserError) -> str:
    with pytest.raises(kind) as e:
        call()
    return one_line(str(e.value))


def test_torchs_own_layers_are_told_to_come_from_a_builder_which_trains(tmp_path):
    builder = "def build(input_shape, num_classes): return nn.Sequential(...), then model=build"
    for given in (nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), nn.Sequential):
        text = _error(lambda g=given: vislab.train(CFG, model=g, out=tmp_path / "a", epochs=1))
        assert builder in text and "takes no num_classes" in text, text
        assert "model=Sequential" not in text, text  # the class itself does not take num_classes

    def build(input_shape, num_classes):
        return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(input_shape)), num_classes))

    run = vislab.train(CFG, model=build, out=tmp_path / "b", epochs=1)
    assert run.summary["status"] == "complete"


def test_an_option_without_a_default_is_named_as_a_keyword_in_python(tmp_path):
    class Need(Net):
        def __init__(self, num_classes: int, input_shape: tuple[int, ...], hidden: int):
            super().__init__(num_classes, input_shape)

    text = _error(lambda: vislab.train(CFG, model=Need, out=tmp_path / "a", epochs=1))
    assert "model__hidden=<value>" in text, text
    run = vislab.train(CFG, model=Need, model__hidden=8, out=tmp_path / "a", epochs=1)
    assert run.config.model.kwargs() == {"hidden": 8}


def test_a_cell_run_again_with_resume_true_keeps_the_runs_own_epochs(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        vislab.train(CFG, model=Net, out=out, epochs=2, callbacks=[StopAfterOneEpoch()])
    run = vislab.train(CFG, model=Net, out=out, resume=True)  # no epochs=: the run's 2 go on
    assert run.config.train.epochs == 2 and run.summary["status"] == "complete"
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_resume_true_where_nothing_was_saved_says_so_and_how_to_start_it(tmp_path):
    never = tmp_path / "never"
    text = _error(lambda: vislab.train(CFG, model=Net, out=never, resume=True))
    assert f"nothing to resume: '{never}' does not exist" in text, text
    assert f"vislab.train(..., out='{never}') without resume=True" in text, text
    empty = tmp_path / "empty"  # stopped after the folder was made, before a checkpoint
    empty.mkdir()
    text = _error(lambda: vislab.train(CFG, model=Net, out=empty, resume=True))
    assert f"nothing to resume in '{empty}': no checkpoints/last.pt" in text, text
    assert "give out=<its folder>" not in text, text
    run = vislab.train(CFG, model=Net, out=empty, epochs=1)  # the way on it names
    assert run.summary["status"] == "complete"


FIVE_AND_CALL = """
class Five(nn.Module):  # 5 outputs for 10 classes: refused when built
    def __init__(self, num_classes, input_shape):
        super().__init__(); self.fc = nn.Linear(64, 5)
    def forward(self, x): return self.fc(x.flatten(1))
class Good(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__(); self.fc = nn.Linear(64, num_classes)
    def forward(self, x): return self.fc(x.flatten(1))
"""


def test_a_quoted_class_name_is_told_to_drop_the_quotes_and_refused_models_are_not_listed(
    notebook, tmp_path
):
    notebook_cell(notebook, FIVE_AND_CALL, "cell1")
    notebook.update(CFG=CFG, out=tmp_path)
    with pytest.raises(UserError):
        notebook_cell(notebook, "vislab.train(CFG, model=Five, out=out / 'five', epochs=1)", "c2")
    call = "vislab.train(CFG, model='Good', out=out / 'good', epochs=1)"
    text = _error(lambda: notebook_cell(notebook, call, "cell3"))
    assert "model='Good' names no registered model: did you mean model=Good (the class" in text, (
        text
    )
    text = _error(lambda: vislab.train(CFG, model="Goood", out=tmp_path / "typo", epochs=1))
    assert "unknown model 'Goood'." in text and "Available: cnn," in text, text
    assert "user-Five" not in text, text  # a model object refused when built: not a name to give


def test_a_model_given_as_the_config_and_a_dataloader_are_told_what_to_give(tmp_path):
    text = _error(lambda: vislab.train(Net, data="digits", out=tmp_path / "a"))
    assert "config: Net is a model, not a config: give it as model=Net." in text, text
    x = torch.rand(40, 1, 8, 8)  # images in [0, 1]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.arange(40) % 4))
    text = _error(lambda: vislab.train(model=Net, data=loader, out=tmp_path / "b"))
    assert "give its dataset, data=loader.dataset (a torch Dataset)" in text, text
    cfg = tiny_base(train__seed=0, model=DROP, data=DROP)
    run = vislab.train(cfg, model=Net, data=loader.dataset, out=tmp_path / "b")
    assert run.summary["status"] == "complete"


@pytest.fixture(scope="module")
def digits() -> list[np.ndarray]:
    """scikit-learn's digits as 8×8 uint8 images: train 200, val 60, test 90 (labels after each)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.images * 15).astype(np.uint8), d.target
    return [x[:200], y[:200], x[200:260], y[200:260], x[260:350], y[260:350]]


def _rows(x: np.ndarray) -> list[bytes]:
    return sorted(a.tobytes() for a in x)


def test_val_arrays_of_ones_own_are_the_val_split_not_carved_from_train(tmp_path, digits):
    x, y, xv, yv, xt, yt = digits
    data = {"train": (x, y, NAMES), "val": (xv, yv), "test": (xt, yt)}
    run = vislab.train(CFG, data=data, out=tmp_path / "r", model="mlp", epochs=1)
    assert (run.summary["n_val"], run.summary["n_test"]) == (60, 90)
    splits = load_splits(DataConfig(name=run.config.data.name), seed=0)
    assert _rows(splits.val.x[..., 0]) == _rows(xv) and _rows(splits.test.x[..., 0]) == _rows(xt)
    assert _rows(splits.train.x[..., 0]) == _rows(x)  # all of train, none carved off
    assert splits.class_names == NAMES
    joined = load_splits(DataConfig(name=run.config.data.name, official_val=False), seed=0)
    assert len(joined.train) + len(joined.val) == 260  # data.official_val=false: val joins train
    only_val = vislab.register_arrays({"train": (x, y), "val": (xv, yv)})
    carved = load_splits(DataConfig(name=only_val), seed=0)
    assert _rows(carved.val.x[..., 0]) == _rows(xv) and len(carved.test) == 20  # test from train
    with pytest.raises(DataError, match=r"data\['val'\] holds the labels 10, 11,.* outside"):
        vislab.register_arrays({"train": (x, y), "val": (xv, yv + 5)})
