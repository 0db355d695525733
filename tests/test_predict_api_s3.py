"""What user-testers found in predict / eval and the Run API: stacks of grey arrays, predict_files (the
CLI's CSV table from Python), an unwritable --csv, eval's CSV and folder, --top-k past the classes, bool
masks, and arguments that set the same config key twice."""

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vislab
import vislab.api.suites as suites
import vislab.classify
import vislab.predict
from conftest import cli, one_line, tiny_config
from fixtures import write_image_folder
from vislab.data.images import to_uint8
from vislab.errors import UserError, WriteFailed
from vislab.files import atomic_write_text
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """sklearn's digits as uint8 N×8×8, the grey stack a user holds (values 0-16)."""
    from sklearn.datasets import load_digits  # heavy: only this module's tests use it

    return load_digits().images[-6:].astype(np.uint8)


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory) -> vislab.Run:
    """A 1-epoch MLP on 8×8 colour images: a run of 3-channel inputs."""
    root = tmp_path_factory.mktemp("colour")
    write_image_folder(root, per_class=8)
    run = tmp_path_factory.mktemp("colour-run") / "run"
    sets = ["data.name=folder", f"data.root={root}", "data.image_size=8", "data.val_fraction=0.3"]
    sets += [
        "data.test_fraction=0.3",
        "train.epochs=1",
        "train.batch_size=8",
        "train.figures=false",
    ]
    train(tiny_config(*sets), run, quiet=True)
    return vislab.load_run(run)


@pytest.fixture
def pngs(tmp_path, digits) -> Path:
    """A folder of 3 digit PNGs and, in a sub-folder, one file that is no image."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(digits[i] * 15).save(folder / f"{i}.png")
    (folder / "sub" / "broken.png").write_bytes(b"not a png")
    return folder


def _same(a: list, b: list) -> bool:
    """The same ranked classes per image, probabilities to float rounding (batches of other sizes)."""
    names = lambda r: [[n for n, _ in row] for row in r]  # noqa: E731
    probs = lambda r: [q for row in r for _, q in row]  # noqa: E731
    return names(a) == names(b) and probs(a) == pytest.approx(probs(b), abs=1e-6)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------- arrays in predict
def test_a_stack_of_grey_arrays_is_that_many_images(trained, digits):
    run = vislab.load_run(trained)
    one_by_one = run.predict(list(digits[-3:]))
    assert _same(run.predict(digits[-3:]), one_by_one)  # was one "C×H×W" RGB image
    assert _same(run.predict(digits[-2:]), one_by_one[1:])  # was a shape error
    # the docstring's example: a stack inside a list is its images too
    assert _same(run.predict([digits[-3], digits[-2:]]), one_by_one)
    assert _same(run.predict(digits[-3:, :, :, None]), one_by_one)  # N×H×W×C
    assert len(run.predict(digits[-1:])) == 1  # 1×H×W: one image either way


def test_three_planes_are_one_colour_image_for_a_colour_run(colour_run):
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert _same(colour_run.predict(rgb.transpose(2, 0, 1)), colour_run.predict(rgb))  # C×H×W
    planes = colour_run.predict(np.stack([rgb[..., 0]] * 5))  # 5×H×W: five grey images
    assert len(planes) == 5 and _same(planes[:1], colour_run.predict(rgb[..., 0]))


def test_a_bool_mask_is_black_and_white(trained):
    run = vislab.load_run(trained)
    mask = np.zeros((8, 8), bool)
    mask[2:6, 3:5] = True
    assert _same(run.predict(mask), run.predict(mask.astype(np.uint8) * 255))  # was "bool ... NaN"
    assert to_uint8(mask).max() == 255 and to_uint8(mask).dtype == np.uint8


def test_top_k_past_the_classes_lists_them_all(trained, digits):
    [ranked] = vislab.load_run(trained).predict(digits[0], top_k=50)
    assert len(ranked) == 10


# ------------------------------------------------------------------------------- predict_files
def test_predict_files_is_the_csv_s_table_by_file(capsys, trained, pngs, tmp_path):
    run = vislab.load_run(trained)
    table = run.predict_files(pngs, top_k=2)
    out = tmp_path / "p.csv"
    code, _ = cli(capsys, "predict", trained, pngs, "--csv", out, "--top-k", "2")
    rows = _rows(out)
    assert code == 2  # the broken file
    assert list(table.columns) == list(rows[0])  # the CSV's header, in its order
    assert (
        list(table.file)
        == [r["file"] for r in rows]
        == [str(pngs / f) for f in ("0.png", "1.png", "2.png", "sub/broken.png")]
    )
    for (_, got), want in zip(table.iterrows(), rows):
        assert (got.predicted, got.class_2, got.error) == (
            want["predicted"],
            want["class_2"],
            want["error"],
        )
    good, broken = table.iloc[0], table.iloc[3]
    assert [(good.predicted, good.probability)] == [
        (n, pytest.approx(p, abs=1e-6)) for n, p in run.predict(pngs / "0.png", top_k=1)[0]
    ]
    assert "broken.png' is not a readable image" in broken.error and np.isnan(broken.probability)


def test_predict_names_predict_files_for_a_folder_and_refuses_arrays_there(trained, pngs, digits):
    run = vislab.load_run(trained)
    with pytest.raises(UserError, match=r"is a folder: run\.predict_files\("):
        run.predict(pngs)  # was a list of rows without their files
    with pytest.raises(UserError, match="predict_files takes file and folder paths, not a ndarray"):
        run.predict_files([digits[0]])
    missing = run.predict_files([pngs / "0.png", pngs / "nope.png"])
    assert missing.error.iloc[0] == "" and "does not exist" in missing.error.iloc[1]


# ---------------------------------------------------------------------------------- predict CLI
def _unwritable(tmp_path: Path, monkeypatch) -> Path:
    """A folder no file can be made in, though os.access says it is writable (as for root in /sys)."""
    monkeypatch.setattr("vislab.cli.scores.os.access", lambda *a, **k: True)
    if os.geteuid() == 0:  # root writes through permission bits: only a file system refuses it
        if not Path("/sys").is_dir():
            pytest.skip("no /sys to be refused by as root")
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def test_an_unwritable_csv_is_refused_by_name_before_any_image(
    capsys, trained, pngs, tmp_path, monkeypatch
):
    folder = _unwritable(tmp_path, monkeypatch)
    read = []
    monkeypatch.setattr(vislab.classify, "picked_predictions", lambda *a, **k: read.append(a) or [])
    code, text = cli(capsys, "predict", trained, pngs, "--csv", folder / "p.csv")
    assert code == 2 and not read  # no image was read
    assert f"--csv '{folder / 'p.csv'}'" in one_line(text) and "--out" not in text


def test_a_csv_that_fails_at_the_write_names_csv(capsys, trained, pngs, tmp_path, monkeypatch):
    monkeypatch.setattr("vislab.cli.scores.check_csv_path", lambda path: None)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("vislab.files.tempfile.mkstemp", refused)
    code, text = cli(capsys, "predict", trained, pngs / "0.png", "--csv", tmp_path / "p.csv")
    assert code == 1 and "Choose a writable --csv." in one_line(text)
    assert "--out" not in text
    with pytest.raises(WriteFailed, match="Choose a writable --out"):  # the trainer's option
        atomic_write_text(tmp_path / "x.txt", "x")


def test_top_k_past_the_classes_is_said_once(capsys, trained, pngs):
    code, text = cli(capsys, "predict", trained, pngs / "0.png", pngs / "1.png", "--top-k", "20")
    out, err = text.split("note:", 1) if "note:" in text else (text, "")
    assert code == 0 and text.count("note:") == 1
    assert "--top-k 20, but the model knows 10 classes" in one_line(err)
    assert all(line.count(",") == 9 for line in out.splitlines() if ".png:" in line)


# ------------------------------------------------------------------------------------------ eval
def test_eval_without_a_gallery_keeps_the_list_and_prints_its_columns(capsys, trained, tmp_path):
    """`--mistakes 0`: no gallery, but mistakes_test.csv is written and named; eval prints the CSV's
    columns as its header has them."""
    code, text = cli(capsys, "eval", trained, "--mistakes", "0", "--out", tmp_path)
    assert code == 0
    assert (tmp_path / "mistakes_test.csv").is_file() and not (
        tmp_path / "mistakes_test.png"
    ).exists()
    assert f"{tmp_path / 'mistakes_test.csv'}" in one_line(text)
    with open(tmp_path / "mistakes_test.csv", newline="") as f:
        header = next(csv.reader(f))
    assert f"columns {', '.join(header)})" in one_line(text)


def test_eval_of_a_checkpoint_file_writes_into_its_run_s_figures(capsys, trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    code, _ = cli(capsys, "eval", run / "checkpoints" / "last.pt", "--mistakes", "0")  # no gallery
    assert code == 0
    assert (run / "figures" / "confusion_test_last.png").is_file()
    assert (run / "figures" / "mistakes_test_last.csv").is_file()
    assert not list((run / "checkpoints").glob("*.png")) + list((run / "checkpoints").glob("*.csv"))
    loose = tmp_path / "elsewhere" / "model.pt"  # a checkpoint outside a run folder: beside it
    loose.parent.mkdir()
    shutil.copy(run / "checkpoints" / "last.pt", loose)
    assert cli(capsys, "eval", loose, "--mistakes", "0")[0] == 0
    assert (loose.parent / "confusion_test_model.png").is_file()


# ------------------------------------------------------------------------------------ the API
def test_train_refuses_epochs_given_twice(tmp_path):
    with pytest.raises(UserError, match=r"train__epochs=2 and epochs=1 both set train\.epochs"):
        vislab.train(model="mlp", data="digits", epochs=1, train__epochs=2, out=tmp_path / "r")
    with pytest.raises(UserError, match=r"optim__lr=0\.1 and optim\.lr=0\.2 both set optim\.lr"):
        vislab.train(out=tmp_path / "r", optim__lr=0.1, **{"optim.lr": 0.2})
    assert not (tmp_path / "r").exists()  # refused before anything trained


def test_run_suite_takes_section_key_settings_as_train_does(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(
        suites, "_train_runs", lambda suite, folder, shared, sets, **kw: seen.append(sets)
    )
    monkeypatch.setattr(suites, "_suite_result", lambda suite, folder: None)
    suites.run_suite("quickstart", out=tmp_path / "qs", epochs=1, data__limit=300)
    assert seen == [["train.epochs=1", "data.limit=300"]]  # was a TypeError
    with pytest.raises(UserError, match=r"epochs=1 and train\.epochs=2 both set train\.epochs"):
        suites.run_suite("quickstart", out=tmp_path / "qs2", epochs=1, train__epochs=2)
    with pytest.raises(UserError, match=r"data\.limit=5 and data\.limit=300 both set data\.limit"):
        suites.run_suite(
            "quickstart", out=tmp_path / "qs3", overrides=["data.limit=5"], data__limit=300
        )
    with pytest.raises(UserError, match="run_suite got seed=3, which is no argument of it"):
        suites.run_suite("quickstart", out=tmp_path / "qs4", seed=3)
