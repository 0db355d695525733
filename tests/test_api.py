"""The public Python API: only names in ``vislab.__all__`` (and the CLI's ``main`` to compare with it)."""

import os
import re
import shutil
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

import vislab
from conftest import DROP, tiny_base
from vislab.cli import main
from vislab.training.history import EpochRow  # the row its notebook lines print
from vislab.training.progress import (  # the one internal module: its notebook mode is checked
    Progress,
    progress_line,
)

TINY = tiny_base(
    data__limit=300, train__epochs=2, train__seed=0, train__figures=DROP, model__hidden=[32]
)
# the runs whose figures/ no test looks at skip them (most of a tiny run's time)
QUICK = {**TINY, "train": {**TINY["train"], "figures": False}}
METRICS = ("train_acc", "train_loss", "val_acc", "val_pacc", "val_loss", "test_acc", "test_pacc")
METRICS += ("test_loss", "test_auc", "best_epoch", "params", "val_per_class", "test_per_class")


class Net(torch.nn.Module):
    """A user's own model: takes num_classes and input_shape, and one option with a bound."""

    def __init__(self, input_shape: tuple, num_classes: int, width: int = 16):
        super().__init__()
        if width < 1:
            raise ValueError("width must be positive")
        c, h, w = input_shape
        self.net = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(c * h * w, width),
            torch.nn.ReLU(),
            torch.nn.Linear(width, num_classes),
        )

    def forward(self, x):
        return self.net(x)


Net.__module__ = (
    "__main__"  # a notebook's class (one of an importable module is named test_api:Net)
)


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """A run of the user's Net, trained through the API."""
    out = tmp_path_factory.mktemp("api") / "net"
    return vislab.train(TINY, model=Net, out=out, model__width=24)


def test_public_names_resolve_and_import_vislab_stays_light():
    for name in vislab.__all__:
        assert getattr(vislab, name) is not None, name
    code = "import sys, vislab; print('torch' in sys.modules, vislab.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "False"  # the API loads on first use, not with the package


@pytest.mark.slow
def test_train_in_python_and_on_the_command_line_give_identical_metrics(tmp_path, capsys):
    run = vislab.train(QUICK, out=tmp_path / "api")
    sets = [f"{s}.{k}={v}" for s, sec in QUICK.items() for k, v in sec.items()]
    sets = [a.replace(" ", "") for a in sets]
    argv = ["train", "-q", "--out", str(tmp_path / "cli")]
    assert main([*argv, *(x for a in sets for x in ("--set", a))]) == 0
    cli_run = vislab.load_run(tmp_path / "cli")
    assert {k: run.summary[k] for k in METRICS} == {k: cli_run.summary[k] for k in METRICS}
    assert run.summary["model"] == "mlp" and run.config.model.name == "mlp"


def test_overrides_as_double_underscore_or_dotted_keys(tmp_path):
    run = vislab.train(
        model="mlp",
        data="digits",
        out=tmp_path / "r",
        model__hidden=[16],
        train__epochs=1,
        **{"data.limit": 200, "train.device": "cpu", "train.figures": False},
    )
    cfg = run.config
    assert (cfg.model.kwargs(), cfg.train.epochs, cfg.data.limit) == ({"hidden": [16]}, 1, 200)
    assert len(run.history) == 1


def test_own_module_class_trains_and_the_run_answers(own_run):
    run = vislab.load_run(own_run.path)
    assert run.summary["model"] == "user-Net" and run.config.model.kwargs() == {"width": 24}
    assert isinstance(run.model(), Net)
    hist = run.history
    assert isinstance(hist, pd.DataFrame) and list(hist["epoch"]) == [1, 2]
    assert {"train_loss", "train_acc", "val_acc"} <= set(hist.columns)
    ev = run.evaluate("test")
    assert ev["acc"] == pytest.approx(run.summary["test_acc"])
    assert set(ev["per_class"]) == {str(i) for i in range(10)}
    for kind in ("curves", "confusion", "per-class", "roc"):
        fig = run.plot(kind)
        assert isinstance(fig, Figure), kind
        assert fig._repr_png_().startswith(b"\x89PNG"), kind  # a notebook shows it inline
    assert isinstance(run.plot("confusion", split="val"), Figure)
    page = run._repr_html_()
    assert "<img src='data:image/png;base64," in page and "test ACC" in page


def test_predict_gives_the_same_classes_for_paths_pil_images_and_arrays(own_run, tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (8, 8), dtype=np.uint8) for _ in range(3)]
    paths = []
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    by_path = own_run.predict(paths, top_k=2)
    assert len(by_path) == 3 and all(len(r) == 2 for r in by_path)
    assert own_run.predict([Image.open(p) for p in paths], top_k=2) == by_path
    assert own_run.predict(arrays, top_k=2) == by_path
    assert own_run.predict(np.stack(arrays)[..., None], top_k=2) == by_path  # N×H×W×C: N images
    floats = [a.astype(np.float32) / 255 for a in arrays]
    assert [r[0][0] for r in own_run.predict(floats)] == [r[0][0] for r in by_path]
    assert own_run.predict(str(paths[0]), top_k=1)[0][0][0] == by_path[0][0][0]


def test_numpy_arrays_and_a_torch_dataset_as_data(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (120, 8, 8), dtype=np.uint8)
    y = np.arange(120) % 2
    cfg = {
        "train": {"epochs": 1, "device": "cpu", "figures": False},
        "model": {"name": "mlp", "hidden": [8]},
    }
    run = vislab.train(cfg, data=(x, y, ["even", "odd"]), out=tmp_path / "arrays")
    assert run.summary["data"].startswith("memory:")
    assert set(run.summary["test_per_class"]) == {"even", "odd"}
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    run2 = vislab.train(cfg, data=ds, out=tmp_path / "dataset")
    assert run2.summary["test_acc"] is not None


def test_a_builder_function_with_an_option_pydantic_cannot_check(tmp_path):
    def build(input_shape, num_classes, act: torch.nn.Module | None = None, width: int = 8):
        size = int(np.prod(input_shape))
        layers = [torch.nn.Flatten(), torch.nn.Linear(size, width), act or torch.nn.ReLU()]
        return torch.nn.Sequential(*layers, torch.nn.Linear(width, num_classes))

    run = vislab.train(QUICK, model=build, out=tmp_path / "b", model__width=4, train__epochs=1)
    assert run.summary["model"].startswith("user-") and run.summary["model"].endswith(".build")
    assert run.model()[1].out_features == 4


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda tmp: vislab.train(TINY, out=tmp / "a", lr=3), "section__key"),
        (lambda tmp: vislab.train(TINY, out=tmp / "b", model=42), "model must be"),
        (lambda tmp: vislab.train(TINY, out=tmp / "c", data=3.5), "data must be"),
        (lambda tmp: vislab.train(123, out=tmp / "d"), "config must be"),
        (lambda tmp: vislab.train(TINY, out=tmp / "e", model=Net, model__depth=3), "model.depth"),
        (
            lambda tmp: vislab.train(TINY, out=tmp / "w", model=Net, model__width="wide"),
            "model.width",
        ),
        (
            lambda tmp: vislab.train(TINY, out=tmp / "f", model=lambda input_shape, num_classes: 3),
            "not a torch.nn.Module",
        ),
        (lambda tmp: vislab.train(resume=True), "give out="),
        (lambda tmp: vislab.train(TINY, out=tmp, resume=True), "nothing to resume in"),
        (lambda tmp: vislab.train(TINY, resume=True), "and no config"),
        (lambda tmp: vislab.load_run(tmp), "not a vislab run directory"),
        (lambda tmp: vislab.compare([tmp / "missing"]), "does not exist"),
        (lambda tmp: vislab.load_config(5), "load_config got path=5 (int)"),
        (
            lambda tmp: vislab.train(TINY, tmp / "g"),  # out given as a second positional argument
            "takes 1 positional argument (config), 2 given: give the others by name (out=, model=",
        ),
        (lambda tmp: vislab.load_config(overrides=5), "overrides must be a string, a list"),
        # the decorator written without its name would replace the class by a decorator
        (lambda tmp: vislab.register_model(Net), 'write @vislab.register_model("net") above Net'),
        (lambda tmp: vislab.register_model(3), "the model's name, a string, not int"),
    ],
)
def test_bad_arguments_are_user_errors_naming_the_fix(tmp_path, call, fragment):
    with pytest.raises(vislab.UserError, match=re.escape(fragment)):
        call(tmp_path)


def test_load_config_takes_paths_and_overrides_as_users_hold_them(tmp_path):
    assert vislab.load_config(overrides="optim.lr=0.5").optim.lr == 0.5  # one, as --set takes it
    assert vislab.load_config({"train": {"epochs": 4}}, ("optim.lr=0.25",)).optim.lr == 0.25
    assert vislab.load_config(None, np.array(["optim.lr=0.3"])).optim.lr == 0.3
    assert vislab.load_config(None, (s for s in ["optim.lr=0.4"])).optim.lr == 0.4

    class Named:  # any os.PathLike, as pytest's tmpdir (py.path.local)
        def __fspath__(self) -> str:
            return str(tmp_path / "c.yaml")

    (tmp_path / "c.yaml").write_text("optim:\n  lr: 0.125\n")
    assert vislab.load_config(Named()).optim.lr == 0.125


def test_bad_plot_kind_and_bad_images(own_run, tmp_path):
    with pytest.raises(vislab.UserError, match="curves, confusion, per-class, roc, boundary"):
        own_run.plot("bars")
    with pytest.raises(vislab.UserError, match="needs 2-D features"):
        own_run.plot("boundary")  # images
    with pytest.raises(vislab.UserError, match="1 or 3 channels"):
        own_run.predict(np.zeros((8, 8, 4)))
    with pytest.raises(vislab.UserError, match="does not exist"):
        own_run.predict([tmp_path / "nope.png"])
    with pytest.raises(vislab.UserError, match="cannot classify a dict"):
        own_run.predict([{}])


@pytest.mark.slow
def test_run_suite_and_compare(own_run, tmp_path):
    # an earlier suite in the folder, whose "mlp" is another model's run: overwrite=True starts it over
    (tmp_path / "qs").mkdir()
    (tmp_path / "qs" / "suite.json").write_text('{"name": "quickstart"}')
    shutil.copytree(own_run.path, tmp_path / "qs" / "mlp")
    lines = []
    res = vislab.run_suite(
        "quickstart",
        out=tmp_path / "qs",
        epochs=1,
        overrides={"data.limit": 300, "train.device": "cpu", "train.figures": False},
        log=lines.append,
        overwrite=True,
    )
    assert "mlp: starting → " + str(tmp_path / "qs" / "mlp") in lines
    assert res.runs["mlp"].summary["model"] == "mlp"
    assert list(res.table["run"]) == ["majority", "mlp", "cnn"]
    assert set(res.runs) == {"majority", "mlp", "cnn"}
    assert (tmp_path / "qs" / "results.csv").is_file() and not (
        tmp_path / "qs" / "report.html"
    ).exists()
    assert any(line.startswith("suite quickstart: 3 runs") for line in lines)
    table = vislab.compare({"a": res.runs["mlp"], "b": tmp_path / "qs" / "cnn"})
    assert list(table["run"]) == ["a", "b"] and "test_acc" in table.columns
    assert table["test_acc"].tolist() == res.table["test_acc"].tolist()[1:]
    assert list(vislab.compare(str(tmp_path / "qs" / "cnn"))["run"]) == ["cnn"]  # one run
    assert "<table" in res._repr_html_()


def test_sweep_over_a_kwarg_of_the_users_model(own_run, tmp_path):
    spec = {
        "name": "net-width",
        "base": {**QUICK, "model": {"name": own_run.summary["model"]}},
        "space": {"model.width": {"type": "int", "low": 4, "high": 32}},
        "sampler": "random",
        "seed": 0,
    }
    study = vislab.sweep(spec, out=tmp_path / "sw", trials=2, epochs=1, log=lambda _: None)
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 2
    assert {t.params["model.width"] for t in study.trials} <= set(range(4, 33))
    assert (tmp_path / "sw" / "trials" / "0" / "summary.json").is_file()
    # again with overwrite=True: a new study of 1 trial (without it, the 2 trials would count as done)
    again = vislab.sweep(
        spec, out=tmp_path / "sw", trials=1, epochs=1, log=lambda _: None, overwrite=True
    )
    assert len(again.trials) == 1 and not (tmp_path / "sw" / "trials" / "1").exists()
    assert (tmp_path / "sw" / "spec.yaml").is_file()  # the sweep's own file stays


# ------------------------------------------------------------------------------ starting over
def test_a_run_in_out_is_continued_or_started_over_in_the_callers_words(own_run, capsys):
    with pytest.raises(vislab.UserError) as api_error:  # the folder holds a run: nothing is touched
        vislab.train(TINY, model=Net, out=own_run.path, model__width=24)
    text = str(api_error.value)
    assert f"vislab.train(out='{own_run.path}', resume=True)" in text
    assert "overwrite=True" in text and "out=" in text and "--" not in text
    assert main(["train", "-q", "--set", "data.name=digits", "--out", str(own_run.path)]) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert f"--resume {own_run.path}" in text and "--overwrite" in text and "--out" in text
    assert "=True" not in text
    assert vislab.load_run(own_run.path).summary["status"] == "complete"


def test_overwrite_starts_the_run_over_quietly_outside_a_notebook(own_run, tmp_path, capsys):
    out = tmp_path / "run"  # a finished 2-epoch run, and a figure of an earlier version (its name)
    shutil.copytree(own_run.path, out)
    (out / "figures" / "boundary_epochs.png").write_bytes(b"")
    run = vislab.train(QUICK, out=out, overwrite=True, train__epochs=1)
    assert run.summary["model"] == "mlp" and list(run.history["epoch"]) == [1]
    assert not (out / "figures" / "boundary_epochs.png").exists()
    assert capsys.readouterr() == ("", "")  # quiet=None: progress in a notebook only


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_overwrite_deletes_only_a_free_vislab_folder_of_its_kind(own_run, tmp_path, capsys):
    mine = tmp_path / "mine"  # a folder of the user's own files: never deleted
    mine.mkdir()
    (mine / "config.yaml").write_text("my: settings\n")
    (mine / "notes.md").write_text("keep me\n")
    with pytest.raises(vislab.UserError, match="not a folder vislab wrote"):
        vislab.train(TINY, out=mine, overwrite=True)
    assert main(["train", "--overwrite", "--set", "data.name=digits", "--out", str(mine)]) == 2
    assert "not a folder vislab wrote" in capsys.readouterr().err
    assert _files(mine) == ["config.yaml", "notes.md"]
    suite = tmp_path / "suite"  # another kind of vislab folder
    shutil.copytree(own_run.path, suite / "net")
    (suite / "suite.json").write_text("{}")
    kept = _files(suite)
    with pytest.raises(vislab.UserError, match="is a vislab suite folder"):
        vislab.train(TINY, out=suite, overwrite=True)
    busy = tmp_path / "busy"  # a run another live process is writing
    shutil.copytree(own_run.path, busy)
    (busy / ".lock").write_text(f"{os.getppid()} {socket.gethostname()}")
    before = _files(busy)
    with pytest.raises(
        vislab.UserError, match=f"in use by another vislab process \\(pid {os.getppid()}\\)"
    ):
        vislab.train(TINY, out=busy, overwrite=True)
    assert _files(busy) == before
    with pytest.raises(vislab.UserError, match="give one of them"):
        vislab.train(out=own_run.path, resume=True, overwrite=True)
    assert main(["train", "--resume", str(own_run.path), "--overwrite"]) == 2
    with pytest.raises(vislab.UserError, match="shared through a storage URL"):
        vislab.run_suite("quickstart", out=suite, storage="postgresql://u@h/db", overwrite=True)
    assert _files(suite) == kept


def test_a_run_or_suite_never_mixes_with_or_deletes_the_users_own_files(own_run, tmp_path, capsys):
    """A project folder given as the output is refused for a new run or suite, and a vislab folder the
    user put a file into is not started over (a student's `--out .` then `--overwrite` once deleted
    thesis.tex and code/ beside the run)."""
    project = tmp_path / "project"
    (project / "code").mkdir(parents=True)
    (project / "thesis.tex").write_text("\\documentclass{article}\n")
    (project / "code" / "net.py").write_text("# mine\n")
    before = _files(project)
    with pytest.raises(vislab.UserError, match=r"not a vislab run's \(code/, thesis.tex\)"):
        vislab.train(TINY, out=project)
    assert main(["train", "--set", "data.name=digits", "--out", str(project)]) == 2
    assert "Give a new or empty folder" in capsys.readouterr().err
    with pytest.raises(vislab.UserError, match="not a vislab suite's"):
        vislab.run_suite("quickstart", out=project, epochs=1)
    assert _files(project) == before

    run = tmp_path / "run"  # a run, what vislab's tools write into it, and the user's notes
    shutil.copytree(own_run.path, run)
    for name in ("report.html", "explain/a_gradcam.png", "export/model.onnx",
                 "tensorboard/events.out", ".summary.json.abc.tmp", "notes.md"):  # fmt: skip
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text("x")
    with pytest.raises(vislab.UserError, match=r"vislab did not write \(notes.md\)"):
        vislab.train(TINY, out=run, overwrite=True)
    assert (run / "notes.md").is_file() and (run / "checkpoints" / "best.pt").is_file()
    (run / "notes.md").unlink()
    vislab.train(QUICK, out=run, overwrite=True, train__epochs=1)  # all vislab's: started over
    assert not (run / "report.html").exists() and not (run / "explain").exists()

    suite = (
        tmp_path / "suite"
    )  # its runs (one trained on for other epochs, one cut before its config)
    for name in ("cnn", "cnn.epochs-2"):
        shutil.copytree(own_run.path, suite / name)
    (suite / "mlp" / "checkpoints").mkdir(parents=True)
    (suite / "mlp" / "figures").mkdir()
    for name in ("suite.json", "results.csv", "results.md", "report.html", "notes.txt"):
        (suite / name).write_text("{}")
    with pytest.raises(vislab.UserError, match=r"vislab did not write \(notes.txt\)"):
        vislab.api.start_over(suite, "suite")
    (suite / "notes.txt").unlink()
    vislab.api.start_over(suite, "suite")
    assert _files(suite) == []


def test_progress_line_is_plain_text():
    line = progress_line(3, 8, 15, 45, "loss 0.1234 acc 0.9000 lr 1.00e-03", eta_s=75.4, width=12)
    assert line == "epoch 3/8 ████░░░░░░░░ 15/45  loss 0.1234 acc 0.9000 lr 1.00e-03  ~1:15 left"
    assert progress_line(1, 2, 0, 10, "", None, width=4) == "epoch 1/2 ░░░░ 0/10  "


def test_progress_in_a_notebook_prints_plain_lines(capsys):
    p = Progress(notebook=True)
    assert p.jupyter and not p.interactive
    p.line("hello")
    p.start(1, 10)
    p.epoch_done(EpochRow(epoch=1, train_loss=0.5, train_acc=0.9, lr=None, seconds=1.0))
    p.stop()
    out = capsys.readouterr().out
    assert "hello" in out and "epoch 1/1" in out and "\x1b" not in out


REOPEN = """
import sys, torch, vislab
from vislab.cli import main

# `vislab eval RUN` here, where no user-Net is registered: exit 2 and a message (stderr) saying what to do
print("exit code", main(["eval", sys.argv[1]]))


class Net(torch.nn.Module):
    def __init__(self, input_shape: tuple, num_classes: int, width: int = 16):
        super().__init__()
        c, h, w = input_shape
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(c * h * w, width),
                                       torch.nn.ReLU(), torch.nn.Linear(width, num_classes))

    def forward(self, x):
        return self.net(x)

vislab.register_model("user-Net")(Net)  # a class registers as it would train: Net(num_classes=..., ...)
print(vislab.load_run(sys.argv[1]).evaluate("test")["acc"])
"""


def test_a_model_object_run_reopens_elsewhere_once_its_class_is_registered_again(own_run, capsys):
    code = main(["eval", str(own_run.path)])  # this process registered user-Net: it works here
    assert code == 0
    capsys.readouterr()
    # another process (one for both steps: python starts in seconds) has no user-Net
    out = subprocess.run(
        [sys.executable, "-c", REOPEN, str(own_run.path)], capture_output=True, text=True
    )
    assert out.returncode == 0 and "Traceback" not in out.stderr + out.stdout, out.stderr
    lines = out.stdout.splitlines()
    # `vislab eval` there: the message says where the name came from and what to do
    assert "exit code 2" in lines
    text = " ".join((out.stdout + out.stderr).split())
    assert "vislab.train(model=...) in another Python process" in text
    assert "vislab.register_model('user-Net')" in text and "file.py:Net" in text
    # what works from the command line first, then a notebook's way: the class is found
    cli_way = text.index(
        "from the command line, train it again with model.name=path/to/file.py:Net"
    )
    assert cli_way < text.index("in Python, run the definition of Net again")
    # registering the class again (the public decorator takes an nn.Module class) reopens the run
    assert float(lines[-1]) == pytest.approx(own_run.summary["test_acc"])
