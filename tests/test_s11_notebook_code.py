"""What a student who writes models in a notebook found: a run's fingerprint of its class covers the code
the class runs besides its own source — the base class it inherits, the helper functions and the globals
it calls from other cells — so a run refuses to reopen or resume once one of them is redefined (it gave
other numbers silently); a class fixed in a later cell is not silently replaced by the stale one it was
registered as; a registered name unknown in a new process says to register it again; a misspelt argument
of vislab.train is suggested."""

import hashlib
import inspect
import linecache

import pytest

import vislab
from conftest import DROP, notebook_cell, tiny_base
from vislab.errors import ConfigError, UserCodeError
from vislab.models import unregister_model
from vislab.models.fingerprints import code_fingerprint, own_source_sha256
from vislab.models.objects import check_unchanged

QUICK = tiny_base(train__seed=0, model=DROP)


def _cell(namespace: dict, source: str, number: int) -> None:
    notebook_cell(namespace, source, f"s11_cell{number}")


BASE = """
class Base(nn.Module):
    def forward(self, x):
        return self.head(self.body(x).flatten(1)){scale}


class NetS11(Base):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        c, h, w = input_shape
        self.body = nn.Sequential(nn.Conv2d(c, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(4 * h * w, num_classes)
"""

HELPER = """
ACT = nn.{act}


def block(c, w):
    return nn.Sequential(nn.Conv2d(c, w, 3, padding=1), ACT(), nn.{pool}(2))
"""

CALLER = """
class CallerS11(nn.Module):
    def __init__(self, num_classes, input_shape, width: int = 4):
        super().__init__()
        c, h, w = input_shape
        self.body = block(c, width)
        self.head = nn.Linear(width * (h // 2) * (w // 2), num_classes)

    def forward(self, x):
        return self.head(self.body(x).flatten(1))
"""

LATE = """
class LateS11(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)
        self.steps = 0

    def forward(self, x):
        if self.training:
            self.steps += 1
            {bug}
        return self.fc(x.flatten(1))
"""


def test_a_run_refuses_to_reopen_once_the_base_class_it_inherits_is_redefined(notebook, tmp_path):
    _cell(notebook, BASE.format(scale=""), 1)
    run = vislab.train(QUICK, model=notebook["NetS11"], out=tmp_path / "a")
    _cell(notebook, BASE.format(scale=" * 0"), 2)  # Base edited, NetS11's own cell unchanged
    vislab.train(QUICK, model=notebook["NetS11"], out=tmp_path / "b")  # user-NetS11: the new one
    for use in (run.evaluate, run.model):
        with pytest.raises(UserCodeError) as refused:  # was: evaluated with the new Base, acc 0.10
            use()
        assert "__main__.Base" in str(refused.value) and "* 0" in str(refused.value)
    _cell(notebook, BASE.format(scale=""), 3)  # the original cell again: the run reopens
    assert run.evaluate()["acc"] == pytest.approx(run.summary["test_acc"])
    assert run.summary["model_code"]["uses"] == ["__main__.Base"]  # what its fingerprint covers


def test_a_run_refuses_once_a_function_or_global_its_class_uses_is_redefined(notebook, tmp_path):
    _cell(notebook, HELPER.format(act="ReLU", pool="MaxPool2d"), 1)
    _cell(notebook, CALLER, 2)
    run = vislab.train(QUICK, model=notebook["CallerS11"], out=tmp_path / "r")
    _cell(notebook, HELPER.format(act="ReLU", pool="AvgPool2d"), 3)  # another block()
    with pytest.raises(UserCodeError) as refused:  # was: evaluated with the new block()
        run.evaluate()
    assert "__main__.block" in str(refused.value) and "AvgPool2d" in str(refused.value)
    with pytest.raises(UserCodeError, match="AvgPool2d"):  # was: trained on with the new block()
        vislab.train(out=tmp_path / "r", resume=True, epochs=2)
    _cell(notebook, HELPER.format(act="Tanh", pool="MaxPool2d"), 4)  # block as it was, ACT changed
    with pytest.raises(UserCodeError, match=r"ACT = torch\.nn\.modules\.activation\.Tanh"):
        run.evaluate()
    _cell(notebook, HELPER.format(act="ReLU", pool="MaxPool2d"), 5)  # as trained: it reopens
    assert run.evaluate()["acc"] == pytest.approx(run.summary["test_acc"])
    assert run.summary["model_code"]["uses"] == ["__main__.block", "ACT"]


def test_a_class_that_uses_only_libraries_keeps_the_fingerprint_of_its_source(notebook):
    _cell(notebook, LATE.format(bug="pass"), 1)
    late = notebook["LateS11"]
    source = "".join(linecache.getlines("/ipykernel_test/s11_cell1.py")[1:])
    code = code_fingerprint(late)  # and code_sha256: the same without comments and docstrings
    assert (
        code["source_sha256"] == hashlib.sha256(source.encode()).hexdigest() and "uses" not in code
    )


def test_resuming_after_the_class_is_fixed_says_it_was_redefined(notebook, tmp_path):
    bug = "if self.steps > 8: raise ValueError('my bug at step 9')"  # after a checkpoint
    _cell(notebook, LATE.format(bug=bug), 1)
    with pytest.raises(ValueError, match="my bug at step 9"):
        vislab.train(QUICK, model=notebook["LateS11"], out=tmp_path / "r", epochs=4)
    _cell(notebook, LATE.format(bug="pass"), 2)  # the bug fixed, the cell run again
    with pytest.raises(UserCodeError) as refused:  # was: the stale class, raising the bug again
        vislab.train(out=tmp_path / "r", resume=True)
    text = str(refused.value)
    assert "__main__.LateS11 has been redefined" in text and "my bug" in text
    assert "run the earlier definition of LateS11 again" in text and "overwrite=True" in text
    fixed = vislab.train(QUICK, model=notebook["LateS11"], out=tmp_path / "r", overwrite=True)
    assert fixed.summary["status"] == "complete"
    _cell(notebook, LATE.format(bug="x = 1"), 3)  # edited again, not trained: evaluate refuses
    with pytest.raises(UserCodeError, match="redefined since"):
        fixed.evaluate()


def test_a_registered_name_unknown_in_a_new_process_says_to_register_it_again(notebook, tmp_path):
    _cell(notebook, '@vislab.register_model("tiny-s11")' + LATE.format(bug="pass"), 1)
    run = vislab.train(QUICK, model="tiny-s11", out=tmp_path / "r")
    unregister_model("tiny-s11")  # as in a new Python process
    with pytest.raises(ConfigError) as refused:
        run.evaluate()
    assert "register it again" in str(refused.value)
    assert "vislab.register_model('tiny-s11')" in str(refused.value)
    assert "trained with __main__.LateS11" in str(refused.value)  # the class to register


def test_a_run_recorded_before_the_code_a_class_uses_counted_still_reopens(notebook, tmp_path):
    _cell(notebook, BASE.format(scale=""), 1)
    net = notebook["NetS11"]
    run = vislab.train(QUICK, model=net, out=tmp_path / "r")
    code = run.summary["model_code"]
    old = {k: v for k, v in code.items() if k not in ("uses", "code_sha256")}  # an earlier record
    old |= {"source_sha256": own_source_sha256(net)}
    check_unchanged(code["reference"], old, "r")  # as an earlier vislab recorded it: it reopens
    with pytest.raises(UserCodeError, match="redefined"):  # its own source changed: refused
        check_unchanged(code["reference"], old | {"source_sha256": "0" * 64}, "r")


def test_a_misspelt_argument_of_train_is_suggested(tmp_path):
    with pytest.raises(
        ConfigError, match=r"did you mean overwrite=True, an argument of vislab.train"
    ):
        vislab.train(QUICK, out=tmp_path / "r", overwrit=True)
    with pytest.raises(ConfigError, match=r"did you mean optim__lr=0\.1\?"):
        vislab.train(QUICK, out=tmp_path / "r", lr=0.1)
    arguments = inspect.signature(vislab.train).parameters.values()
    for name in (p.name for p in arguments if p.kind is p.KEYWORD_ONLY and p.name != "callbacks"):
        with pytest.raises(ConfigError, match=f"did you mean {name}="):
            vislab.train(QUICK, out=tmp_path / "r", **{name[:-1]: 1})
    assert not (tmp_path / "r").exists()
