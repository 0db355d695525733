"""export --out and predict --csv never replace a run's own files, replace another existing file only with
--force (export_run: force=True), make a folder of an --out ending in /; an export's test_acc is only its run's."""

import json
import shutil

import pytest

import vislab
from conftest import cli, tiny_config
from vislab.errors import UserError
from vislab.export import export_run
from vislab.training.trainer import train

OWN = [
    "checkpoints/best.pt",
    "config.yaml",
    "summary.onnx",
]  # summary.onnx: its spec is summary.json (an ONNX export's; a TorchScript one's: summary.torchscript.json)


def _bytes(run):
    return {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and "export" not in p.parts}


@pytest.mark.parametrize("rel", OWN)
def test_export_never_replaces_a_runs_own_file_even_with_force(capsys, trained, rel):
    before = _bytes(trained)
    fmt = "onnx" if rel.endswith(".onnx") else "torchscript"
    with pytest.raises(UserError, match="never replaces"):
        vislab.load_run(trained).export(fmt, out=trained / rel)
    code, text = cli(capsys, "export", trained, "-f", fmt, "--out", trained / rel, "--force")
    assert code == 2 and "never replaces" in text, text
    with pytest.raises(UserError, match="never replaces"):
        export_run(trained, fmt, trained / rel, force=True)
    assert _bytes(trained) == before  # best.pt still holds the weights, config and summary intact


def test_export_replaces_an_existing_file_only_with_force(capsys, trained, tmp_path):
    model, spec = tmp_path / "m.pt", tmp_path / "s.torchscript.json"
    model.write_bytes(b"mine")
    spec.write_text("mine")
    code, text = cli(capsys, "export", trained, "-f", "torchscript", "--out", model)
    assert code == 2 and f"'{model}' already exists" in text and model.read_bytes() == b"mine"
    with pytest.raises(UserError, match="already exists"):  # the spec's place: s.torchscript.json
        vislab.load_run(trained).export("torchscript", out=tmp_path / "s.pt")
    assert spec.read_text() == "mine" and not (tmp_path / "s.pt").exists()
    vislab.load_run(trained).export("torchscript", out=tmp_path / "s.pt", force=True)
    assert spec.read_text() != "mine" and (tmp_path / "s.pt").is_file()
    assert cli(capsys, "export", trained, "-f", "torchscript", "--out", model, "--force")[0] == 0
    assert model.read_bytes() != b"mine" and json.loads(
        (tmp_path / "m.torchscript.json").read_text()
    )
    for _ in range(2):  # the run's own export/ is vislab's: replaced without --force
        assert cli(capsys, "export", trained, "-f", "torchscript")[0] == 0


def test_export_out_ending_in_a_slash_is_a_new_folder(capsys, trained, tmp_path):
    code, _ = cli(capsys, "export", trained, "-f", "torchscript", "--out", f"{tmp_path / 'new'}/")
    assert code == 0 and (tmp_path / "new").is_dir()
    assert (tmp_path / "new" / "model.torchscript.pt").is_file()
    assert (tmp_path / "new" / "model.torchscript.json").is_file()
    model, spec = export_run(trained, "torchscript", f"{tmp_path / 'py'}/")
    assert (model, spec) == (
        tmp_path / "py" / "model.torchscript.pt",
        tmp_path / "py" / "model.torchscript.json",
    )


def test_test_acc_is_given_only_for_the_runs_own_checkpoint(trained, tmp_path):
    other = tmp_path / "other"
    train(
        tiny_config("train.epochs=1", "model.hidden=[16]", "train.figures=false"), other, quiet=True
    )
    mixed = tmp_path / "mixed"
    shutil.copytree(trained, mixed)
    shutil.copy(other / "checkpoints" / "best.pt", mixed / "checkpoints" / "best.pt")
    _, spec = export_run(mixed, "torchscript")
    assert json.loads(spec.read_text())["checkpoint"]["test_acc"] is None
    _, spec = export_run(trained, "torchscript", tmp_path / "own.pt")
    own = vislab.load_run(trained).summary["test_acc"]
    assert json.loads(spec.read_text())["checkpoint"]["test_acc"] == own


def test_predict_csv_never_replaces_a_runs_file_and_another_only_with_force(
    capsys, trained, digit_png, tmp_path
):
    best = trained / "checkpoints" / "best.pt"
    before = best.read_bytes()
    code, text = cli(capsys, "predict", trained, digit_png, "--csv", best)
    assert code == 2 and "never replaces" in text and best.read_bytes() == before
    code, text = cli(capsys, "predict", trained, digit_png, "--csv", best, "--force")
    assert code == 2 and "never replaces" in text and best.read_bytes() == before
    csv = tmp_path / "mine.csv"
    csv.write_text("mine")
    code, text = cli(capsys, "predict", trained, digit_png, "--csv", csv)
    assert code == 2 and "already exists" in text and csv.read_text() == "mine"
    assert cli(capsys, "predict", trained, digit_png, "--csv", csv, "--force")[0] == 0
    assert csv.read_text().startswith("file,")
