"""The `vislab` command end to end (in-process): happy paths and exit codes."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from figures_skipped import skip_report_figures
from vislab.cli import main


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_config_show_resolves_overrides(capsys):
    code, out = run(
        capsys, "config", "show", "--set", "optim.lr=0.01", "--set", "model.widths=[8,16]"
    )
    assert code == 0
    cfg = yaml.safe_load(out)
    assert cfg["optim"]["lr"] == 0.01 and cfg["model"]["widths"] == [8, 16]


def test_config_show_bad_key_exit_2_without_traceback(capsys):
    code, out = run(capsys, "config", "show", "--set", "train.epoch=3")
    assert code == 2 and "train.epoch" in out and "epochs" in out and "Traceback" not in out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["trian"], "No such command 'trian'"),
        (["train", "--bogus"], "No such option: --bogus"),
        (["train", "--resume"], "requires an argument"),
        (["train", "--resume", "a", "b"], "unexpected extra argument"),
    ],
)
def test_usage_errors_exit_2_with_the_usage_line(capsys, args, fragment):
    code, out = run(capsys, *args)
    assert code == 2 and fragment in out and "Error" in out and "Traceback" not in out


def test_quickstart_prints_comparison_table(capsys, tmp_path, monkeypatch):
    skip_report_figures(monkeypatch)  # its report: tests/test_reported.py
    code, out = run(capsys, "quickstart", "--out", str(tmp_path), "--epochs", "1", "--quiet")
    assert code == 0
    for name in ("majority", "mlp", "cnn"):
        assert name in out
        assert json.loads((tmp_path / name / "summary.json").read_text())["status"] == "complete"
    assert "val ACC" in out and "test PACC" in out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "cnn"
    code = main(
        [
            "train",
            "--set",
            "data.name=digits",
            "--set",
            "model.name=cnn",
            "--set",
            "model.widths=[8,16]",
            "--set",
            "model.fc=[32]",
            "--set",
            "train.epochs=2",
            "--set",
            "data.limit=400",
            "--set",
            "train.figures=false",  # eval writes its own (test_eval_reproduces_summary_test_accuracy)
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    return out


def test_eval_reproduces_summary_test_accuracy(capsys, trained):
    summary = json.loads((trained / "summary.json").read_text())
    code, out = run(capsys, "eval", str(trained), "--split", "test")
    assert code == 0
    assert f"acc {summary['test_acc']:.4f}" in out
    assert (trained / "figures" / "confusion_test.png").is_file()


@pytest.mark.parametrize(
    "args, fragments",
    [
        (
            ["--set", "data.name=circles"],
            [
                "trained on 1×8×8 inputs",
                "gives 2 inputs",
                "Evaluate on images, as the run trained on",
            ],
        ),
        (["--set", "data.resize=16"], ["trained on 1×8×8 inputs", "gives 1×16×16 inputs"]),
        (["--set", "model.widths=[4,8]"], ["eval scores the checkpoint's own model"]),
        (["--out", "FILE"], ["is a file, not a folder"]),
    ],
)
def test_eval_bad_inputs_exit_2(capsys, trained, tmp_path, args, fragments):
    f = tmp_path / "a-file.yaml"
    f.write_text("x: 1\n")
    code, out = run(capsys, "eval", str(trained), *[str(f) if a == "FILE" else a for a in args])
    assert code == 2 and "Traceback" not in out, out
    for fragment in fragments:
        assert fragment in " ".join(out.split()), out


def test_data_preview_refuses_a_non_image_file_name(capsys, tmp_path):
    code, out = run(capsys, "data", "preview", "digits", "--out", str(tmp_path / "p.txt"))
    assert (
        code == 2 and ".png" in out and "Traceback" not in out and not (tmp_path / "p.txt").exists()
    )


def test_predict_top_k_and_bad_file_gets_its_own_line(capsys, trained, tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    good = tmp_path / "seven.png"
    Image.fromarray((d.images[7] * 255 / 16).astype(np.uint8)).resize((40, 40)).save(good)
    rgb = tmp_path / "seven_rgb.jpg"
    Image.open(good).convert("RGB").save(rgb)
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    code, out = run(capsys, "predict", str(trained), str(good), str(bad), str(rgb), "-k", "2")
    assert code == 2 and "Traceback" not in out
    lines = out.strip().splitlines()
    assert any(str(good) in line and line.count(".") >= 2 for line in lines)
    assert any(str(rgb) in line for line in lines)
    assert any(str(bad) in line and "not a readable image" in line for line in lines)


def test_data_info_and_preview(capsys, tmp_path):
    code, out = run(capsys, "data", "info", "digits")
    assert (
        code == 0
        and "train" in out
        and "val" in out
        and "test" in out
        and "1797" not in out.split("total")[0]
    )
    png = tmp_path / "grid.png"
    code, out = run(
        capsys,
        "data",
        "preview",
        "digits",
        "--set",
        "augment.rotation.p=1",
        "--set",
        "augment.crop.p=1",
        "--out",
        str(png),
        "-n",
        "6",
    )
    assert code == 0 and Image.open(png).size[0] > 100


def test_data_preview_labels_the_originals_with_their_classes(capsys, tmp_path, grid_rows):
    seen = grid_rows
    code, _ = run(
        capsys,
        "data",
        "preview",
        "digits",
        "--out",
        str(tmp_path / "g.png"),
        "-n",
        "12",
        "--copies",
        "1",
    )
    assert code == 0
    assert seen["labels"][:10] == [
        str(k) for k in range(10)
    ]  # one image of each class first, in class order
    assert len(seen["labels"]) == len(seen["rows"][0]) == 12


def test_train_user_errors_exit_2(capsys, tmp_path):
    code, out = run(
        capsys,
        "train",
        "--set",
        "model.name=cnn",
        "--set",
        "model.widths=[8,8,8,8]",
        "--set",
        "data.name=digits",
        "--out",
        str(tmp_path / "x"),
        "-q",
    )
    assert code == 2 and "too small" in out and "Traceback" not in out
    code, out = run(
        capsys, "train", "--set", "model.name=resnet9000", "--out", str(tmp_path / "y"), "-q"
    )
    assert code == 2 and "unknown model" in out
    code, out = run(
        capsys, "train", "--set", "data.name=imagenet", "--out", str(tmp_path / "z"), "-q"
    )
    assert code == 2 and "unknown dataset" in out and "digits" in out


def test_model_list_shows_every_model_and_the_timm_extra(capsys, monkeypatch):
    from vislab.cli import model as model_cli

    # one line per row: fragments are not wrapped apart
    monkeypatch.setattr(model_cli.console, "width", 250)
    code, out = run(capsys, "model", "list")
    assert code == 0
    for name in ("majority", "mlp-scratch", "cnn", "vit", "resnet18", "fast", "timm:<name>"):
        assert name in out
    assert "pip install 'vislab[timm]'" in out  # rich markup must not swallow the [timm] extra


def test_split_smaller_than_the_class_count_is_carved_unstratified(capsys):
    from vislab.config import DataConfig
    from vislab.data import load_splits

    # 10 classes, 5 train samples
    splits = load_splits(DataConfig(name="digits", split=[5, 1, 1]), seed=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (5, 1, 1)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (
            ["train", "--resume", "RUN", "--set", "train.epochs=9"],
            "these options change it: train.epochs: 2 → 9",
        ),
        (["train", "--resume", "RUN", "--out", "elsewhere"], "names another"),
        (["train", "--resume", "MISSING"], "does not exist"),
        (["train", "--nproc", "0"], "'--nproc'"),
        (["quickstart", "--epochs", "0"], "'--epochs'"),
    ],
)
def test_resume_and_count_options_refuse_what_they_would_ignore(
    capsys, trained, tmp_path, args, fragment
):
    args = [
        str(trained) if a == "RUN" else str(tmp_path / "nope") if a == "MISSING" else a
        for a in args
    ]
    before = (trained / "metrics.jsonl").read_text()
    code, out = run(capsys, *args)
    assert code == 2 and fragment in " ".join(out.split()) and "Traceback" not in out, out
    assert (trained / "metrics.jsonl").read_text() == before


def test_resume_accepts_the_original_options_repeated(capsys, tmp_path):
    args = [
        "--set",
        "data.name=digits",
        "--set",
        "data.limit=200",
        "--set",
        "train.epochs=1",
        "--set",
        "model.widths=[8]",
        "--set",
        "train.figures=false",
    ]
    out = tmp_path / "r"
    assert run(capsys, "train", *args, "--out", str(out), "-q")[0] == 0
    code, text = run(capsys, "train", "--resume", str(out), *args, "--out", str(out), "-q")
    assert code == 0, text


def test_ctrl_c_outside_training_says_interrupted_and_exits_130(tmp_path, capsys, monkeypatch):
    """A Ctrl-C that reaches the command line before any handler of vislab's (typer would end it with
    130 and nothing printed). (`vislab report` has its own: it says what it kept, test_ctrl_c_words.py.)"""
    import vislab.cli as cli_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "load_config", interrupted)
    code = main(["config", "show"])
    assert code == 130 and "interrupted." in capsys.readouterr().err
