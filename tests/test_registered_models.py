"""What a notebook user found with ``@vislab.register_model`` and ``vislab.model_info``: a class
registered again under its name with other code (a cell run again, edited) replaces it, but the runs
trained with the earlier code refuse to reopen or resume, as a redefined ``model=Net`` does; the same cell
run again unedited changes nothing; model options are recorded as the builder takes them, not as typed;
a model whose forward pass fails says so in its ``model_info`` view."""

import pytest
import torch
import yaml

import vislab
from conftest import DROP, notebook_cell, tiny_base
from vislab.errors import UserCodeError, UserError
from vislab.models import build_model, check_model_options, registry

QUICK = tiny_base(train__seed=0, model=DROP)

TINY = """
@vislab.register_model("tiny-reg")
class TinyReg(nn.Module):
    def __init__(self, num_classes, input_shape, width: int = 8):
        super().__init__()
        c, h, w = input_shape
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.{act}(),
                                 nn.Linear(width, num_classes))

    def forward(self, x):
        return self.net(x)
"""


def _cell(namespace: dict, source: str, number: int) -> None:
    notebook_cell(namespace, source, f"registered_cell{number}")


def _activation(name: str) -> type:
    model = build_model(name, (1, 8, 8), 10)
    return next(type(m) for m in model.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.Tanh)))


def test_a_run_refuses_to_reopen_once_its_registered_class_is_edited(notebook, tmp_path):
    _cell(notebook, TINY.format(act="ReLU"), 1)
    run = vislab.train(QUICK, model="tiny-reg", out=tmp_path / "tiny")
    code = run.summary["model_code"]
    assert code["reference"] == "tiny-reg" and len(code["source_sha256"]) == 64
    _cell(notebook, TINY.format(act="Tanh"), 2)  # the cell again, edited: no error, the new class
    assert _activation("tiny-reg") is torch.nn.Tanh
    for use in (run.model, run.evaluate, lambda: run.predict([torch.zeros(8, 8).numpy()])):
        with pytest.raises(UserCodeError) as refused:
            use()
        text = str(refused.value)
        assert "model 'tiny-reg'" in text and "TinyReg has been redefined" in text
        assert "ReLU" in text and "Tanh" in text  # the lines that changed
        assert "Run the original definition of TinyReg again" in text
    with pytest.raises(UserCodeError, match="TinyReg has been redefined"):
        vislab.train(out=tmp_path / "tiny", resume=True, epochs=2)
    _cell(notebook, TINY.format(act="ReLU"), 3)  # the original cell again: the run reopens, resumes
    assert run.evaluate()["acc"] == pytest.approx(run.summary["test_acc"])
    assert vislab.train(out=tmp_path / "tiny", resume=True, epochs=2).summary["epochs_run"] == 2


def test_a_cell_run_again_unedited_changes_nothing(notebook, tmp_path):
    _cell(notebook, TINY.format(act="ReLU"), 1)
    run = vislab.train(QUICK, model="tiny-reg", out=tmp_path / "tiny")
    _cell(notebook, TINY.format(act="ReLU"), 2)  # no error, and the run's code is still the name's
    assert vislab.load_run(tmp_path / "tiny").summary["model_code"]["reference"] == "tiny-reg"
    assert run.evaluate()["acc"] == pytest.approx(run.summary["test_acc"])
    # another class under the taken name: refused
    other = TINY.format(act="ReLU").replace("class TinyReg", "class Other")
    with pytest.raises(UserError, match="'tiny-reg' is already registered by __main__.TinyReg"):
        _cell(notebook, other, 3)


def test_model_options_are_recorded_as_the_builder_takes_them(tmp_path):
    checked = check_model_options("cnn", {"batchnorm": "yes", "dropout": "0.5", "fc": (16,)})
    assert checked == {"batchnorm": True, "dropout": 0.5, "fc": [16]}
    assert check_model_options("timm:resnet18", {"drop_rate": "0.1"}) == {"drop_rate": "0.1"}
    cfg = vislab.Config.model_validate({"model": {"name": "cnn", "batchnorm": "no"}})
    assert registry.with_checked_options(cfg).to_dict()["model"] == {
        "name": "cnn",
        "batchnorm": False,
    }
    for i, given in enumerate(["no", 0, False]):  # one model, one record, however it was typed
        out = tmp_path / f"bn{i}"
        run = vislab.train(QUICK, model="cnn", out=out, model__batchnorm=given)
        assert yaml.safe_load((out / "config.yaml").read_text())["model"]["batchnorm"] is False
        assert torch.load(out / "checkpoints" / "best.pt")["model_kwargs"] == {"batchnorm": False}
        assert run.config.model.kwargs() == {"batchnorm": False}


def test_model_info_says_when_the_forward_pass_failed():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(100, 10))
    info = vislab.model_info(net, (1, 28, 28))
    for view in (repr(info), info._repr_html_()):
        assert "the forward pass failed" in view and "mat1 and mat2 shapes" in view
        assert "0 MACs" not in view
    assert "output -" not in repr(info) and "1,010 parameters" in repr(info)
    ok = vislab.model_info(
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)), (1, 28, 28)
    )
    assert "failed" not in repr(ok) and "→ output 10" in repr(ok)
