"""The model zoo's words, as a student checking each model against a course found them: a class
registered from the user's own module reopens in another process where that module imports (under the
trust rules of a file model); `vislab model info` says what each option does, why timm and file models
list none, where the channels, size and classes come from; course words for options (drop_rate,
num_layers) point to vislab's; a partly frozen layer says how much of it is frozen."""

import sys

import pytest

import vislab
from conftest import TINY_RUN, cli, one_line
from vislab.errors import ConfigError, UserError
from vislab.models import registry
from vislab.models.info import option_rows

# the tiny run's training settings, for a model of the test's own
QUICK = {k: v for k, v in TINY_RUN.items() if k.partition("__")[0] == "train"}
QUICK["train__batch_size"] = 50


TIMM_LIKE = '''
import pathlib
import torch.nn as nn
import vislab

pathlib.Path(__file__).with_suffix(".imported").touch()  # a trace of each import


@vislab.register_model("{name}")
class TinyTimm(nn.Module):
    """timm-style: num_classes, in_chans, img_size."""

    def __init__(self, num_classes=1000, in_chans=1, img_size=224, width: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(in_chans, width, 3, padding=1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))
'''


@pytest.fixture
def own_module(tmp_path, monkeypatch):
    """(module name, its file) of a module of the user's registering a timm-like class, imported from
    tmp_path on sys.path; unregistered and forgotten at the end, as a new process would start."""
    name = f"tinynets_{tmp_path.name.replace('-', '_')}"
    path = tmp_path / "mods" / f"{name}.py"
    path.parent.mkdir()
    path.write_text(TIMM_LIKE.format(name=name))
    monkeypatch.syspath_prepend(str(path.parent))
    __import__(name)
    yield name, path
    _forget(name)


def _forget(name: str) -> None:
    """As a new process: the module not imported, its model not registered."""
    sys.modules.pop(name, None)
    if name in registry.MODELS:
        registry.unregister_model(name)


def _trained(name: str, tmp_path) -> vislab.Run:
    run = vislab.train(model=name, data="digits", data__limit=100, out=tmp_path / "run", **QUICK)
    _forget(name)
    return run


def test_a_class_registered_in_a_module_reopens_where_the_module_imports(own_module, tmp_path):
    name, path = own_module
    run = _trained(name, tmp_path)  # trained on grey digits
    path.with_suffix(".imported").unlink()
    model = vislab.load_run(run.path).model()
    assert type(model).__name__ == "TinyTimm" and model.conv.in_channels == 1
    assert path.with_suffix(".imported").exists()


def test_a_run_whose_module_cannot_be_imported_names_pythonpath_and_the_reference(
    own_module, tmp_path, monkeypatch
):
    name, path = own_module
    run = _trained(name, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    sys.path.remove(str(path.parent))
    with pytest.raises(ConfigError) as refused:
        vislab.load_run(run.path).model()
    text = one_line(str(refused.value))
    assert f"Its module {name} cannot be imported here" in text and "PYTHONPATH" in text
    assert f"model.name={name}:TinyTimm" in text


def test_a_changed_module_is_not_imported_silently(own_module, tmp_path):
    name, path = own_module
    run = _trained(name, tmp_path)
    path.write_text(path.read_text() + "\nprint('changed since')\n")
    path.with_suffix(".imported").unlink()
    with pytest.raises(ConfigError) as refused:
        vislab.load_run(run.path).model()
    text = one_line(str(refused.value))
    assert "but its file changed since training: not imported" in text and "--trust-code" in text
    assert not path.with_suffix(".imported").exists()


def test_model_info_says_what_field_described_options_do():
    what = {row[0]: row[3] for row in option_rows("svm", {})}
    assert what["C"] == "the SVM's inverse regularisation"
    assert {r[0]: r[3] for r in option_rows("mlp-scratch", {})}[
        "init_std"
    ] == "the homework uses 0.3"
    assert {r[0]: r[3] for r in option_rows("fast", {})}["ema_decay"] == "0 = no averaging"


def test_model_info_says_why_a_file_model_lists_no_options(capsys, tmp_path, monkeypatch):
    (tmp_path / "net.py").write_text(
        "import torch.nn as nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, num_classes, width: int = 4):\n"
        "        super().__init__(); self.f = nn.Linear(64, num_classes)\n"
        "    def forward(self, x): return self.f(x.flatten(1))\n"
    )
    monkeypatch.chdir(tmp_path)
    code, text = cli(capsys, "model", "info", "net.py:Net", "-i", "1x8x8")
    assert code == 0 and "options: a file model's constructor (or builder) arguments" in text


@pytest.mark.parametrize(
    ("model", "given", "meant"),
    [
        ("vit", "drop_rate", "dropout"),
        ("vit", "num_layers", "depth"),
        ("vit", "nb_blocks", "depth"),
        ("vit", "num_encoder_layers", "depth"),
        ("vit", "hidden_dim", "embed_dim"),
        ("cnn", "drop_rate", "dropout"),
    ],
)
def test_course_words_for_options_point_to_vislabs(model, given, meant):
    with pytest.raises(UserError, match=rf"Did you mean {meant}= "):
        vislab.model_info(model, (1, 16, 16), **{given: 1})
    with pytest.raises(ConfigError, match=rf"Did you mean 'model.{meant}'\?"):
        registry.check_model_options(model, {given: 1})
    with pytest.raises(UserError, match=rf"Did you mean {meant}=\?"):
        vislab.gradcheck(model, (1, 16, 16), **{given: 1})


@pytest.mark.parametrize("key", ["in_chans", "img_size"])
def test_data_given_options_say_where_they_come_from(key):
    with pytest.raises(UserError) as refused:
        vislab.model_info("vit", (1, 16, 16), **{key: 1})
    assert "--input C×H×W / input_shape=(C, H, W)" in one_line(str(refused.value))
    with pytest.raises(ConfigError) as refused:
        registry.check_model_options("cnn", {key: 1})
    assert "vislab gives every model the data's channel count" in one_line(str(refused.value))


@pytest.mark.parametrize(
    ("given", "flag"), [("num_classes=5", "--classes"), ("input_shape=[1,28,28]", "--input")]
)
def test_model_info_points_to_its_flags_for_classes_and_input(capsys, given, flag):
    code, text = cli(capsys, "model", "info", "cnn", "-s", given)
    assert code != 0 and f"model info takes it as {flag}" in one_line(text)
    assert "multiple values" not in text


def test_a_partly_frozen_layer_says_how_much_is_frozen(capsys, tmp_path):
    run = vislab.train(
        model="cnn", data="digits", data__limit=100, train__freeze=["0.weight"],
        model__widths=[4], model__fc=[8], out=tmp_path / "frz", **QUICK,
    )  # fmt: skip
    code, text = cli(capsys, "model", "info", run.path)
    row = next(line for line in text.splitlines() if line.startswith("│ 0 "))
    assert code == 0 and "104 (100 frozen)" in row, row
    code, text = cli(capsys, "model", "info", "fast", "-i", "1x28x28")
    row = next(line for line in text.splitlines() if line.startswith("│ whiten "))
    assert "40 (32 frozen)" in row, row


@pytest.mark.parametrize("name", ["mlp", "cnn", "vit", "resnet18", "fast", "svm", "mlp-scratch"])
def test_every_option_of_a_built_in_model_says_what_it_does(name):
    """resnet18's three options said nothing in model info's "what it does" column."""
    rows = option_rows(name, {})
    assert rows and all(r[3] for r in rows), [r[0] for r in rows if not r[3]]


def test_a_run_that_recorded_no_module_hash_is_not_imported_without_trust(own_module):
    """A run from before module_sha256 was recorded: a module-level line added since would run if the
    class's own source alone were checked (the review ran one), so nothing is imported without trust."""
    from vislab.models.registered_import import import_registered

    name, path = own_module
    _forget(name)
    path.with_suffix(".imported").unlink()
    old_record = {"object": f"{name}.TinyTimm", "source_sha256": "0" * 64}
    said = import_registered(f"{name}.TinyTimm", old_record)
    assert "recorded no hash of its file" in said and "--trust-code" in said
    assert not path.with_suffix(".imported").exists()
    assert import_registered(f"{name}.TinyTimm", old_record, trust_code=True) == ""
    assert path.with_suffix(".imported").exists()


def test_a_timm_like_class_of_three_channels_on_grey_data_is_told_in_chans(tmp_path, monkeypatch):
    """It kept in_chans=3 and failed with torch's channel mismatch, told only to size layers from
    input_shape; the message now names the setting that gives it the data's channels."""
    (tmp_path / "tnet.py").write_text(
        TIMM_LIKE.format(name="tnet-s24").replace("in_chans=1", "in_chans=3")
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as refused:
        vislab.train(
            model="tnet.py:TinyTimm", data="digits", data__limit=50, out=tmp_path / "r", **QUICK
        )
    said = one_line(str(refused.value))
    assert "--set model.in_chans=1 (Python: model__in_chans=1)" in said, said
    run = vislab.train(
        model="tnet.py:TinyTimm",
        data="digits",
        data__limit=50,
        model__in_chans=1,
        out=tmp_path / "ok",
        **QUICK,
    )
    assert run.summary.complete


def test_model_info_of_a_fitted_model_before_its_fit_does_not_read_as_a_failure():
    """svm read "no output: the forward pass failed" and "parameters: 1" before any fit."""
    info = vislab.model_info("svm", (1, 8, 8))
    assert info.title == "svm: input 1×8×8 → no output before its fit"
    assert any(
        line.startswith("parameters: set by its fit on the train split") for line in info.lines()
    )


def test_a_registered_module_importing_a_module_of_yours_is_not_imported_without_trust(tmp_path):
    """The review: a helper module it imports, edited after training, ran on reopen: no hash covers it."""
    from vislab.models.source_imports import own_imports_in

    (tmp_path / "helperx.py").write_text("X = 1\n")
    source = (
        b"import os\nimport numpy\nimport helperx\nfrom . import sibling\nfrom helperx import X\n"
    )
    assert own_imports_in(source, tmp_path) == [".sibling", "helperx"]
    assert own_imports_in(b"import os, json\nimport torch.nn as nn\n", tmp_path) == []
