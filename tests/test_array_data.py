"""Arrays given to the Python API, as a notebook user meets them: a run on arrays evaluated in a new
process, labels that would leave a class without samples, and the resume errors read from Python."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import vislab
from conftest import TINY_RUN, one_line
from fixtures import write_mnist
from vislab.config import DataConfig
from vislab.data.sources import load_source, memory
from vislab.errors import DataError, UserError


def arrays(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8×8 grey uint8 images in 4 classes, each class a different brightness; labels 0..3."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 4)
    x = (rng.integers(0, 60, (n, 8, 8)) + 60 * y[:, None, None]).astype(np.uint8)
    return x, y


def strict_json(path) -> dict:
    """A JSON file read as strict parsers (JavaScript's JSON.parse) read it: NaN/Infinity refused."""

    def refuse(name: str):
        raise ValueError(f"{path} holds {name}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


# ------------------------------------------------------------- a run on arrays, in a new process
@pytest.mark.parametrize("with_names", [False, True])
def test_a_run_on_arrays_is_evaluated_in_a_new_process_by_the_call_its_error_gives(
    tmp_path, monkeypatch, with_names
):
    x, y = arrays()
    names = ["w", "x", "y", "z"]
    data = (x, y, names) if with_names else (x, y)
    run = vislab.train(data=data, out=tmp_path / "mem", **TINY_RUN)
    monkeypatch.setattr(memory, "_REGISTERED", {})  # what another Python process sees
    with pytest.raises(DataError) as e:
        vislab.load_run(run.path).evaluate("val")
    text = one_line(str(e.value))
    call = re.search(r"vislab\.register_arrays\(x, y, name='[^']+'\)", text)
    assert call and "not on disk" in text, text
    if with_names:  # the message: class_names as the third argument
        assert "class_names as the third argument" in text
        call = call.group().replace("x, y,", "x, y, names,")
    else:
        call = call.group()
    assert eval(call, {"vislab": vislab, "x": x, "y": y, "names": names}) == run.config.data.name
    scores = vislab.load_run(run.path).evaluate("val")
    assert scores["acc"] == pytest.approx(run.summary["val_acc"])
    assert set(scores["per_class"]) == set(names if with_names else "0123")


def test_register_arrays_is_public():
    x, y = arrays(20)
    assert "register_arrays" in vislab.__all__ and "register_arrays" in dir(vislab)
    assert vislab.register_arrays(x, y, name="public") == "memory:public"


# ------------------------------------------------------------------------ labels and classes
def test_labels_from_1_are_refused_naming_them_and_the_fix_which_works(tmp_path):
    x, y = arrays()
    with pytest.raises(DataError) as e:
        vislab.train(data=(x, y + 1), out=tmp_path / "from1", **TINY_RUN)
    text = one_line(str(e.value))
    assert "y's labels run 1..4, so class 0 would have no sample" in text, text
    assert "Subtract 1 (y - 1)" in text and "class_names naming all 5 classes" in text, text
    assert not (tmp_path / "from1").exists()
    run = vislab.train(data=(x, y + 1 - 1), out=tmp_path / "from0", **TINY_RUN)
    summary = strict_json(run.path / "summary.json")  # every class has samples: no NaN
    assert set(summary["val_per_class"]) == {"0", "1", "2", "3"}


def test_a_gap_in_the_labels_is_refused_naming_the_empty_class_and_the_fix_works():
    x, y = arrays()
    y = np.array([0, 1, 3, 7])[y]
    with pytest.raises(DataError) as e:
        vislab.register_arrays(x, y)
    text = one_line(str(e.value))
    assert "y's labels are 0, 1, 3, 7, so classes 2, 4, 5, 6 would have no sample" in text, text
    names, labels = np.unique(y, return_inverse=True)  # the fix the message gives
    assert "names, labels = np.unique(y, return_inverse=True)" in text
    data = load_source(DataConfig(name=vislab.register_arrays(x, labels, names)))
    assert data.class_names == ["0", "1", "3", "7"]


def test_given_class_names_may_name_classes_without_samples():
    x, y = arrays()
    name = vislab.register_arrays(x, y + 1, ["none", "a", "b", "c", "d"])  # said on purpose
    assert load_source(DataConfig(name=name)).class_names[0] == "none"
    with pytest.raises(DataError, match=r"the labels run 1\.\.4: subtract 1 if they count from 1"):
        vislab.register_arrays(x, y + 1, ["a", "b", "c", "d"])


# ------------------------------------------------------------------ resume errors, from Python
@pytest.mark.parametrize("folder", ["missing", "empty"])
def test_nothing_to_resume_tells_a_python_caller_what_to_call_and_it_works(tmp_path, folder):
    out = tmp_path / "run"
    if folder == "empty":
        out.mkdir()
    with pytest.raises(UserError, match="nothing to resume") as e:
        vislab.train(out=out, resume=True)
    text = one_line(str(e.value))
    assert f"vislab.train(..., out={str(out)!r}) without resume=True" in text, text
    x, y = arrays()
    run = vislab.train(data=(x, y), out=out, **TINY_RUN)
    assert run.summary["status"] == "complete"


def test_extending_a_cosine_run_names_init_from_for_a_python_caller(tmp_path):
    x, y = arrays()
    run = vislab.train(data=(x, y), out=tmp_path / "cos", schedule__name="cosine", **TINY_RUN)
    with pytest.raises(UserError, match="cannot extend") as e:
        vislab.train(out=run.path, resume=True, epochs=2)
    text = one_line(str(e.value))
    assert f"train__init_from={str(run.path)!r}" in text, text
    more = vislab.train(
        data=(x, y),
        out=tmp_path / "more",
        train__init_from=str(run.path),
        **{**TINY_RUN, "train__epochs": 2},
    )
    assert len(more.history) == 2


def test_mnist_with_its_test_files_only_tells_a_python_caller_the_settings_and_they_work(tmp_path):
    write_mnist(tmp_path, n_test=60, sets=("test",))
    quick = {**TINY_RUN, "train__batch_size": 16}
    given = dict(data="mnist", data__root=str(tmp_path), data__download=False, **quick)
    with pytest.raises(DataError) as e:
        vislab.train(out=tmp_path / "r", **given)
    text = one_line(str(e.value))
    said = re.search(r"data__use=\['test'\], data__split=\[8000, 1000, 1000\]", text)
    assert said, text
    run = vislab.train(out=tmp_path / "r", data__use=["test"], data__split=[40, 10, 10], **given)
    assert run.summary["n_train"] == 40
