"""What a notebook user found with models passed as Python objects (``vislab.train(model=Net)``): a class
redefined in a later cell no longer changes or breaks the runs trained with the earlier one (their source
is fingerprinted, and reopening them is refused, naming the redefinition); a config's model options apply
to the model passed; a class of an importable module is recorded by its reference and reopens in another
process; an in-memory model's own errors at set-up are vislab's UserCodeError with the data's input shape;
an instance is refused for its class; a config file's mistakes name the file."""

import sys

import pytest
import torch
import yaml

import vislab
from conftest import DROP, notebook_cell, tiny_base
from vislab.errors import ConfigError, UserCodeError

QUICK = tiny_base(train__seed=0, model=DROP)


def _cell(namespace: dict, source: str, number: int) -> None:
    notebook_cell(namespace, source, f"cell{number}")


NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes: int, input_shape: tuple, width: int = 16):
        super().__init__()
        c, h, w = input_shape
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(),
                                 nn.Linear(width, num_classes))

    def forward(self, x):
        return self.net(x)


class OneChan(nn.Module):  # sized for 28×28 images, whatever the data
    def __init__(self, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(28 * 28, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


SMALLNET = """
class SmallNetNB(nn.Module):
    def __init__(self, num_classes, input_shape, width: int = 8):
        super().__init__()
        c, h, w = input_shape
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.{act}(),
                                 nn.Linear(width, num_classes))

    def forward(self, x):
        return self.net(x)
"""


def test_a_run_refuses_to_reopen_once_its_notebook_class_is_redefined(notebook, tmp_path):
    _cell(notebook, SMALLNET.format(act="ReLU"), 1)
    a = vislab.train(QUICK, model=notebook["SmallNetNB"], out=tmp_path / "s1")
    code = a.summary["model_code"]
    assert code["reference"] == "user-SmallNetNB" and len(code["source_sha256"]) == 64
    _cell(notebook, SMALLNET.format(act="Tanh"), 2)  # the cell again, with another activation
    b = vislab.train(QUICK, model=notebook["SmallNetNB"], out=tmp_path / "s2")
    assert b.evaluate()["acc"] == pytest.approx(b.summary["test_acc"])
    for use in (a.model, a.evaluate, lambda: a.predict([torch.zeros(8, 8).numpy()])):
        with pytest.raises(UserCodeError) as refused:
            use()
        text = str(refused.value)
        assert "SmallNetNB has been redefined" in text and "ReLU" in text and "Tanh" in text
        assert "Run the original definition of SmallNetNB again" in text
        assert "another name" in text and "model.name=path/to/file.py:SmallNetNB" in text
    # other layer sizes: refused the same way, not blamed on a damaged checkpoint
    _cell(notebook, SMALLNET.format(act="ReLU").replace("width: int = 8", "width: int = 5"), 3)
    with pytest.raises(UserCodeError, match="redefined") as refused:
        a.evaluate()
    assert "damaged" not in str(refused.value)
    _cell(notebook, SMALLNET.format(act="ReLU"), 4)  # the original cell run again: the run reopens
    assert a.evaluate()["acc"] == pytest.approx(a.summary["test_acc"])


def test_a_changed_model_file_is_not_blamed_on_the_checkpoint(tmp_path):
    net = tmp_path / "net.py"
    net.write_text(NET)
    run = vislab.train(QUICK, model=f"{net}:Net", out=tmp_path / "r")
    net.write_text(NET.replace("width: int = 16", "width: int = 12"))
    with pytest.raises(UserCodeError, match="your own code") as refused:
        run.model(trust_code=True)
    assert "damaged" not in str(refused.value)


def test_a_configs_model_options_apply_to_the_model_passed(notebook, tmp_path):
    _cell(notebook, NET, 1)
    Net = notebook["Net"]
    run = vislab.train({**QUICK, "model": {"width": 24}}, model=Net, out=tmp_path / "r")
    assert run.config.model.kwargs() == {"width": 24}
    assert run.model().net[1].out_features == 24
    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["model"]["width"] == 24
    # an option the class does not take is an error, not dropped
    with pytest.raises(ConfigError, match=r"model\.hidden"):
        vislab.train({**QUICK, "model": {"hidden": [8]}}, model=Net, out=tmp_path / "h")


def test_a_class_of_an_importable_module_is_recorded_by_its_reference(tmp_path, monkeypatch):
    (tmp_path / "nets_nb.py").write_text(NET)
    monkeypatch.syspath_prepend(str(tmp_path))  # a notebook's folder: `import nets_nb` works there
    monkeypatch.delitem(sys.modules, "nets_nb", raising=False)
    import nets_nb

    run = vislab.train(QUICK, model=nets_nb.Net, out=tmp_path / "r")
    assert run.summary["model"] == "nets_nb:Net"
    assert run.summary["model_code"]["path"] == str(tmp_path / "nets_nb.py")
    # as a new process started in that folder finds it: not imported, the folder not on sys.path (as
    # for the `vislab` command), the current directory
    monkeypatch.delitem(sys.modules, "nets_nb")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.chdir(tmp_path)
    again = vislab.load_run("r")
    assert again.evaluate()["acc"] == pytest.approx(run.summary["test_acc"])
    assert sys.modules["nets_nb"].__file__ == str(tmp_path / "nets_nb.py")
    # from another folder it cannot be imported: the message says where its file is and what to do
    monkeypatch.delitem(sys.modules, "nets_nb")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(vislab.UserError) as refused:
        vislab.load_run(tmp_path / "r").evaluate()
    said = " ".join(str(refused.value).split())
    assert f"its file {tmp_path / 'nets_nb.py'} is there: run from {tmp_path}, or add" in said
    assert "back at" not in said


def test_an_in_memory_models_error_at_set_up_names_the_data_shape(notebook, tmp_path):
    _cell(notebook, NET, 1)
    with pytest.raises(UserCodeError) as raised:
        vislab.train(QUICK, model=notebook["OneChan"], out=tmp_path / "a")
    text = str(raised.value)
    assert "model 'user-OneChan'" in text and "1×8×8" in text and "cell1.py, line" in text
    assert "Linear(in_features=784" in text  # the layer that raised
    (tmp_path / "nets.py").write_text(NET)
    with pytest.raises(UserCodeError, match="1×8×8"):
        vislab.train(QUICK, model=f"{tmp_path / 'nets.py'}:OneChan", out=tmp_path / "b")


def test_an_instance_is_refused_for_its_class(notebook, tmp_path):
    _cell(notebook, NET, 1)
    with pytest.raises(vislab.UserError, match="instance of Net .*pass the class Net itself"):
        vislab.train(QUICK, model=notebook["Net"](10, (1, 8, 8)), out=tmp_path / "r")


def test_a_config_files_mistake_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  name: digits\ntrain:\n  epochz: 1\n")
    with pytest.raises(ConfigError, match=r"(?s)bad\.yaml \+ vislab\.train arguments.*epochz"):
        vislab.train(str(bad), out=tmp_path / "r")


def test_resuming_a_run_after_its_notebook_class_is_redefined_is_refused(notebook, tmp_path):
    _cell(notebook, SMALLNET.format(act="ReLU"), 1)
    vislab.train(QUICK, model=notebook["SmallNetNB"], out=tmp_path / "s1")
    _cell(
        notebook, SMALLNET.format(act="Tanh"), 2
    )  # and a run with it: user-SmallNetNB is the new one
    vislab.train(QUICK, model=notebook["SmallNetNB"], out=tmp_path / "s2")
    with pytest.raises(UserCodeError, match="SmallNetNB has been redefined"):
        vislab.train(out=tmp_path / "s1", resume=True, epochs=2)
    _cell(notebook, SMALLNET.format(act="ReLU"), 3)  # the original cell again: it goes on
    assert vislab.train(out=tmp_path / "s1", resume=True, epochs=2).summary["epochs_run"] == 2
