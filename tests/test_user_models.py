"""A user's own model without editing vislab: ``model.name=file.py:Net`` / ``package.module:build``,
its options checked against its signature, its hooks honoured, its output shape checked before training;
each bad model a clear exit 2; and a run's user code imported only when trusted or unchanged."""

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import cli, one_line, tiny_sets
from vislab.cli import main
from vislab.errors import ConfigError, UntrustedCode, UserCodeError
from vislab.models import MODEL_PREFIXES, build_model, check_model_options
from vislab.models.code_errors import MARKER
from vislab.models.registry import code_of
from vislab.models.trust import recorded_code
from vislab.predict import load_model

NET = '''
import torch
import torch.nn as nn
from vislab.models.hooks import ModelHooks


class Net(ModelHooks, nn.Module):
    """A small MLP that counts the trainer's after_step calls in a buffer (saved in checkpoints)."""

    def __init__(self, num_classes, input_shape=None, width: int = 16):
        super().__init__()
        c, h, w = input_shape
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(), nn.Linear(width, num_classes)
        )
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        return self.body(x)

    def after_step(self):
        self.steps += 1


def build(input_shape, num_classes, width: int = 8):
    return Net(num_classes, input_shape, width)
'''

BAD = """
import torch.nn as nn

CONST = 3


class NotAModule:
    def __init__(self, num_classes):
        pass


class NoClasses(nn.Module):
    def __init__(self, width=3):
        super().__init__()


class WrongOutput(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.fc = nn.Linear(64, num_classes + 1)

    def forward(self, x):
        return self.fc(x.flatten(1))


class Explodes(nn.Module):
    def __init__(self, num_classes, width: int = 3):
        super().__init__()
        check_width(width)


class BadForward(nn.Module):
    def __init__(self, num_classes):
        super().__init__()

    def forward(self, x):
        return x.reshape(17, -1)


def check_width(width):
    if width % 2:
        raise ValueError(f"width must be even, got {width}")


def returns_int(input_shape, num_classes):
    return 42


def wrong_signature(shape, classes):
    return nn.Linear(shape[0], classes)
"""

MALICIOUS = (
    """
from pathlib import Path

Path({marker!r}).write_text("imported")
"""
    + NET
)


def sets(*extra: str) -> list[str]:
    return tiny_sets(*extra, drop="model.hidden=[32]")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    """A finished 1-epoch run of ``net.py:Net`` (width 8), trained through the CLI from its folder."""
    home = tmp_path_factory.mktemp("user")
    (home / "net.py").write_text(NET)
    here = Path.cwd()
    os.chdir(home)
    try:
        code = main(
            ["train", "-q", "--out", "run", *sets("model.name=net.py:Net", "model.width=8")]
        )
    finally:
        os.chdir(here)
    assert code == 0
    return home / "run"


def test_a_user_class_trains_and_records_its_file(user_run):
    summary = json.loads((user_run / "summary.json").read_text())
    net = user_run.parent / "net.py"
    assert summary["status"] == "complete" and summary["model"] == "net.py:Net"
    assert summary["model_code"] == {
        "reference": "net.py:Net",
        "path": str(net.resolve()),
        "sha256": sha256(net),
    }
    ckpt = torch.load(user_run / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["model_code"]["sha256"] == sha256(net)
    assert ckpt["model_kwargs"] == {"width": 8}
    assert ckpt["state_dict"]["body.1.weight"].shape == (8, 64)  # model.width reached the class
    # the ModelHooks subclass was honoured: after_step ran once per training step
    assert int(ckpt["state_dict"]["steps"]) == summary["n_train"] // 32 > 0


def test_resume_eval_and_predict_of_an_unchanged_user_run(capsys, user_run, digit_png):
    # run from another folder: the file is found at the recorded path, with the recorded hash
    code, text = cli(capsys, "train", "--resume", user_run, "-q")
    assert code == 0, text
    code, text = cli(capsys, "eval", user_run)
    assert code == 0 and "acc" in text, text
    code, text = cli(capsys, "predict", user_run, digit_png)
    assert code == 0 and str(digit_png) in text, text
    model, record = load_model(user_run)
    assert type(model).__name__ == "Net" and record.model.name == "net.py:Net"


def test_a_builder_function_with_its_options(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("models").mkdir()
    Path("models/net.py").write_text(NET)
    ref = "models/net.py:build"
    code, text = cli(
        capsys, "train", "-q", "--out", "b", *sets(f"model.name={ref}", "model.width=4")
    )
    assert code == 0, text
    ckpt = torch.load(tmp_path / "b" / "checkpoints" / "best.pt", weights_only=True)
    assert ckpt["state_dict"]["body.1.weight"].shape == (4, 64)
    module = sys.modules[type(build_model(ref, (1, 8, 8), 10)).__module__]
    assert (
        module.build.__annotations__["width"] is int
    )  # run as written (no __future__ of vislab's)
    # options are validated against the builder's signature, like a built-in's
    code, text = cli(
        capsys, "train", "-q", "--out", "c", *sets(f"model.name={ref}", "model.widht=4")
    )
    assert code == 2 and "has no option 'model.widht'" in one_line(text)
    assert "Did you mean 'model.width'?" in one_line(text)
    code, text = cli(
        capsys, "train", "-q", "--out", "c", *sets(f"model.name={ref}", "model.width=wide")
    )
    assert code == 2 and "model.width = 'wide'" in one_line(text), text


def test_a_module_reference(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(NET)
    monkeypatch.syspath_prepend(str(tmp_path))
    build_model("mypkg.nets:Net", (1, 8, 8), 10, width=5)
    assert code_of("mypkg.nets:Net") == {
        "reference": "mypkg.nets:Net",
        "path": str((pkg / "nets.py").resolve()),
        "sha256": sha256(pkg / "nets.py"),
    }
    record = dict(code_of("mypkg.nets:Net"))
    with recorded_code("mypkg.nets:Net", record, False, "run") as name:  # unchanged: allowed
        assert name == "mypkg.nets:Net"
    for changed, why in (
        ("0" * 64, "differs from the one the run recorded"),
        (None, "records no sha256"),
    ):
        with pytest.raises(UntrustedCode, match=why):
            recorded_code("mypkg.nets:Net", {**record, "sha256": changed}, False, "run").__enter__()
    with pytest.raises(UserCodeError, match="no module named 'mypkg.nope'"):
        check_model_options("mypkg.nope:Net", {})


BAD_CASES = {
    "file missing": (
        "missing.py:Net",
        ["file 'missing.py' not found", "Give the path of your Python file"],
    ),
    "attribute missing": (
        "bad.py:Nett",
        [
            "defines no 'Nett'",
            "It defines: BadForward, Explodes, NoClasses, NotAModule, WrongOutput, "
            "check_width, returns_int, wrong_signature",
        ],
    ),
    "not callable": (
        "bad.py:CONST",
        ["CONST in", "is a int, not callable", "Name an nn.Module class"],
    ),
    "not a module class": (
        "bad.py:NotAModule",
        ["is a class but not a torch.nn.Module", "subclass nn.Module"],
    ),
    "returns no module": (
        "bad.py:returns_int",
        ["returned a int, not a torch.nn.Module", "Return the model"],
    ),
    "builder signature": (
        "bad.py:wrong_signature",
        ["takes (shape, classes)", "def wrong_signature(input_shape, num_classes, **options)"],
    ),
    "class signature": (
        "bad.py:NoClasses",
        ["does not take num_classes", "def __init__(self, num_classes"],
    ),
    "unknown option": (
        "bad.py:WrongOutput",
        ["model 'bad.py:WrongOutput' has no option 'model.width'"],
    ),
    "output shape": (
        "bad.py:WrongOutput",
        [
            "forward(x) on a batch of 2 inputs of shape 1×8×8 returned [2, 11]",
            "expected logits of shape [2, 10]",
        ],
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_user_models_exit_2_naming_the_file_and_the_fix(capsys, tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    Path("bad.py").write_text(BAD)
    ref, fragments = BAD_CASES[case]
    extra = ["model.width=3"] if case == "unknown option" else []
    code, text = cli(capsys, "train", "-q", "--out", "r", *sets(f"model.name={ref}", *extra))
    assert code == 2, text
    flat = one_line(text)
    assert f"model '{ref}'" in flat
    for fragment in fragments:
        assert fragment in flat, (fragment, text)
    assert not (tmp_path / "r" / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize(
    "ref, when, frame",
    [
        ("bad.py:Explodes", "while building the model", 'raise ValueError(f"width must be even'),
        ("bad.py:BadForward", "on a dummy batch of zeros", "return x.reshape(17, -1)"),
        ("broken.py:Net", "while importing it", "import not_a_module_anywhere"),
    ],
)
def test_an_exception_in_user_code_shows_its_own_traceback(
    capsys, tmp_path, monkeypatch, ref, when, frame
):
    monkeypatch.chdir(tmp_path)
    Path("bad.py").write_text(BAD)
    Path("broken.py").write_text("import torch\n\nimport not_a_module_anywhere\n")
    code = main(["train", "-q", "--out", "r", *sets(f"model.name={ref}")])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 2, text
    # vislab's one-paragraph message first, then the marker, then only the user's traceback
    message, marker, user_part = text.partition(MARKER)
    assert marker, text
    assert "Traceback" not in message and f"model '{ref}': your code raised" in one_line(message)
    assert when in one_line(message) and "Fix it there" in one_line(message)
    assert user_part.lstrip().startswith("Traceback (most recent call last):")
    assert frame in user_part
    files = [
        line.split('"')[1] for line in user_part.splitlines() if line.strip().startswith('File "')
    ]
    assert files and all(Path(f).name == ref.split(":")[0] for f in files), files  # no vislab frame
    assert "site-packages" not in user_part and "vislab/" not in user_part.replace(
        str(tmp_path), ""
    )


def test_a_run_whose_code_changed_is_never_imported_silently(
    capsys, tmp_path, monkeypatch, digit_png
):
    monkeypatch.chdir(tmp_path)
    Path("net.py").write_text(NET)
    code, text = cli(capsys, "train", "-q", "--out", "run", *sets("model.name=net.py:Net"))
    assert code == 0, text
    marker = tmp_path / "marker.txt"
    Path("net.py").write_text(MALICIOUS.format(marker=str(marker)))  # the run someone sent you
    for args in (
        ["eval", "run"],
        ["predict", "run", digit_png],
        ["train", "--resume", "run", "-q"],
    ):
        code, text = cli(capsys, *args)
        flat = one_line(text)
        assert code == 2, (args, text)
        assert (
            "not importing user code" in flat
            and f"would execute '{(tmp_path / 'net.py').resolve()}'" in flat
        )
        assert "differs from the one the run recorded" in flat and "--trust-code" in flat
        assert not marker.exists(), args
    with pytest.raises(UntrustedCode):
        load_model(tmp_path / "run")
    assert not marker.exists()
    code, text = cli(capsys, "eval", "run", "--trust-code")
    assert code == 0, text
    assert marker.read_text() == "imported"  # trusted: imported (and run)
    Path("net.py").unlink()
    code, text = cli(capsys, "eval", "run")
    assert code == 2 and "no such file exists" in one_line(text), text


def test_a_registered_prefix_wins_and_built_ins_are_never_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []

    def by_prefix(rest, input_shape, num_classes, **options):
        calls.append(rest)
        return torch.nn.Linear(4, num_classes)

    monkeypatch.setitem(MODEL_PREFIXES, "lab", by_prefix)
    build_model("lab:net.py", (4,), 3)  # the prefix's builder, not a file named lab
    assert calls == ["net.py"]
    with recorded_code("mlp", None, False, "run") as name:  # a registered model: nothing to trust
        assert name == "mlp"
    with pytest.raises(ConfigError, match="unknown model 'net.py'. A model in a file is named"):
        check_model_options("net.py", {})


def test_a_sweep_over_a_user_models_option(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("net.py").write_text(NET)
    spec = {
        "name": "own",
        "base": {
            "data": {"name": "digits", "limit": 200},
            "train": {"epochs": 1, "batch_size": 32, "device": "cpu", "figures": False},
            "model": {"name": "net.py:Net"},
        },
        "space": {"model.width": {"type": "categorical", "choices": [4, 8]}},
        "metric": "val_pacc",
        "sampler": "grid",
    }
    Path("own.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    code, text = cli(capsys, "sweep", "own.yaml", "--out", "sw", "--trials", "2", "--no-report")
    assert code == 0, text
    trials = sorted((tmp_path / "sw" / "trials").iterdir())
    codes = [json.loads((p / "summary.json").read_text())["model_code"] for p in trials]
    assert {c["reference"] for c in codes} == {"net.py:Net"}
    ckpts = [torch.load(p / "checkpoints" / "best.pt", weights_only=True) for p in trials]
    widths = sorted(c["model_kwargs"]["width"] for c in ckpts)
    assert widths == [4, 8]
    spec["space"] = {
        "model.widht": {"type": "categorical", "choices": [4, 8]}
    }  # checked before any trial
    Path("own.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    code, text = cli(capsys, "sweep", "own.yaml", "--out", "sw2", "--trials", "2", "--no-report")
    assert code == 2 and "model 'net.py:Net' has no option 'model.widht'" in one_line(text), text


LAZY = """
import torch.nn as nn


class LazyNet(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.LazyLinear(16), nn.ReLU(), nn.LazyLinear(num_classes))

    def forward(self, x):
        return self.body(x)
"""


def test_a_model_with_lazy_layers_trains_resumes_and_predicts(
    capsys, tmp_path, monkeypatch, digit_png
):
    """Lazy layers get their shapes from the dummy batch before anything counts or optimizes them."""
    monkeypatch.chdir(tmp_path)
    Path("lazy.py").write_text(LAZY)
    code, text = cli(capsys, "train", "-q", "--out", "r", *sets("model.name=lazy.py:LazyNet"))
    assert code == 0, text
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["params"] == 64 * 16 + 16 + 16 * 10 + 10 and summary["status"] == "complete"
    code, text = cli(capsys, "predict", "r", digit_png)
    assert code == 0 and str(digit_png) in text, text
