"""Where output goes: a run on the default data folder evaluated from another folder is told where a
relative data.root starts (and a failed download leaves no empty folders); ``-`` as stdout for compare
--csv and predict --csv; eval's loss and overall scores file; results on stdout, what was written on
stderr (eval, export)."""

import csv
import io
import json
import urllib.error
from pathlib import Path

import pytest
import yaml

from conftest import SHARED_DATA, table_run, tiny_sets
from vislab.cli import main
from vislab.errors import DataError

MNIST_TEST = SHARED_DATA / "mnist"  # the MNIST test set only (t10k files)


def _run(capsys, *args) -> tuple[int, str, str]:
    """``vislab ARGS`` in-process: (exit code, stdout, stderr), neither holding a traceback."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err, out.out + out.err
    return code, out.out, out.err


@pytest.mark.skipif(
    not (MNIST_TEST / "t10k-images-idx3-ubyte.gz").is_file(), reason="no MNIST test files here"
)
def test_a_run_on_the_default_data_folder_evaluated_elsewhere_is_told_where_data_root_starts(
    capsys, tmp_path, monkeypatch
):
    """The default data.root stays relative in config.yaml (a project folder moved or copied keeps
    working); evaluated from another folder, offline, the error says where a relative root starts and how
    to point at the files, and leaves no ./data behind."""
    from vislab.data import download as dl

    proj, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    (proj / "data").mkdir(parents=True)
    (proj / "data" / "mnist").symlink_to(MNIST_TEST, target_is_directory=True)
    elsewhere.mkdir()
    monkeypatch.chdir(proj)  # data.root left at its default, ./data
    sets = tiny_sets(
        "data.name=mnist", "data.use=[test]", "data.split=[200,50,50]", "train.figures=false",
        drop="data.name=digits",
    )  # fmt: skip
    code, _, err = _run(capsys, "train", "-q", "--out", "r1", *sets)
    assert code == 0, err
    assert yaml.safe_load((proj / "r1" / "config.yaml").read_text())["data"]["root"] == "data"

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    monkeypatch.chdir(elsewhere)
    code, out, err = _run(capsys, "eval", "../proj/r1", "--mistakes", "0")
    said = " ".join(err.split())
    assert code == 2 and "a relative data.root starts at the current folder" in said, said
    assert "--set data.root=DIR" in said
    assert list(elsewhere.iterdir()) == []  # the folders the download made are gone


def test_a_failed_download_removes_the_folders_it_made(tmp_path, monkeypatch):
    from vislab.data import download as dl

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    dest = tmp_path / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(DataError, match="Could not download 't10k-labels-idx1-ubyte.gz'"):
        dl.download("https://example.invalid/t10k-labels-idx1-ubyte.gz", dest)
    assert list(tmp_path.iterdir()) == []
    # a partial download stays (the next run resumes it), and so do the folders that hold it
    dest.parent.mkdir(parents=True)
    (dest.parent / f"{dest.name}.part").write_bytes(b"half")
    with pytest.raises(DataError):
        dl.download("https://example.invalid/t10k-labels-idx1-ubyte.gz", dest)
    assert (dest.parent / f"{dest.name}.part").read_bytes() == b"half"


def test_compare_csv_dash_writes_the_csv_on_stdout_and_no_file(capsys, tmp_path, monkeypatch):
    table_run(tmp_path, "a", "optim.lr=0.01")
    table_run(tmp_path, "b", "optim.lr=0.1")
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "compare", "a", "b", "--csv", "-")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["run"] for r in rows] == ["a", "b"] and rows[0]["test_acc"] == "0.5"
    assert "| a |" in err  # the table, on stderr
    assert not (tmp_path / "-").exists()
    code, out, err = _run(capsys, "compare", "a", "b", "--csv", "-", "--md", "-")
    assert code == 2 and "--csv - and --md - both name stdout" in err


def test_eval_prints_its_loss_writes_its_scores_and_says_its_files_on_stderr(
    capsys, trained, tmp_path
):
    code, out, err = _run(capsys, "eval", trained, "--out", tmp_path)
    assert code == 0, err
    first = out.splitlines()[0]
    scores = json.loads((tmp_path / "scores_test.json").read_text())
    assert first == (
        f"test: acc {scores['test_acc']:.4f}, per-class acc {scores['test_pacc']:.4f}, "
        f"top-5 {scores['test_top5_acc']:.4f}, AUC (macro OvR) {scores['test_auc']:.4f}, "
        f"loss {scores['test_loss']:.4f}, n={scores['n']}"
    )
    assert scores["split"] == "test" and scores["n"] > 0
    # results on stdout; the files written on stderr
    assert str(tmp_path) not in out
    for name in ("confusion_test.png", "per_class_test.csv", "scores_test.json"):
        assert str(tmp_path / name) in err


def test_export_says_its_files_on_stderr(capsys, trained, tmp_path):
    code, out, err = _run(capsys, "export", trained, "-f", "torchscript", "-o", tmp_path / "ts")
    assert code == 0, err
    assert out == "" and "model: " in err and "inference spec: " in err


def test_predict_csv_dash_writes_the_csv_on_stdout(capsys, trained, digit_png, tmp_path):
    code, out, err = _run(
        capsys, "predict", trained, digit_png, tmp_path / "nope.png", "--csv", "-"
    )
    assert code == 2  # one image could not be read
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [Path(r["file"]).name for r in rows] == ["seven.png", "nope.png"]
    assert rows[1]["error"] and "2 images (1 could not be read): stdout" in err
    assert not Path("-").exists()


def test_lr_find_says_its_plot_on_stderr_and_its_suggestion_on_stdout(capfd, tmp_path):
    """A script reads lr-find's suggestion from stdout; the file it wrote is said on stderr."""
    from vislab.cli import main

    plot = tmp_path / "lr.png"
    args = ["lr-find", "--set", "model.name=mlp", "--set", "data.name=digits", "--out", str(plot)]
    try:
        main(args)
    except SystemExit as e:
        assert e.code in (0, None)
    out, err = capfd.readouterr()
    assert "train with --set optim.lr=" in out and "plot:" not in out
    assert f"plot: {plot}" in " ".join(err.split())


def test_eval_out_replaces_its_scores_file_only_with_force(trained, tmp_path, capsys):
    """scores_<split>.json is one of eval's files: in --out it is replaced only with --force, as its CSVs
    and PNGs are (it was written over silently)."""
    out = tmp_path / "evals"
    out.mkdir()
    (out / "scores_test.json").write_text("{}")
    code, _, err = _run(capsys, "eval", str(trained), "--out", str(out), "--mistakes", "0")
    assert code == 2 and "scores_test.json" in err, err
    assert (out / "scores_test.json").read_text() == "{}"
    assert (
        _run(capsys, "eval", str(trained), "--out", str(out), "--force", "--mistakes", "0")[0] == 0
    )
