"""`vislab predict` on folders of images into a CSV, and the files behind the mistakes of a run trained
on an image folder: eval's list of wrong predictions, the gallery's titles and the report's rows name the
files, so a mislabelled image can be found and fixed."""

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vislab
import vislab.classify
import vislab.predict
from conftest import cli, one_line, tiny_config
from fixtures import write_image_folder
from vislab.classify import predict_images
from vislab.data import load_splits
from vislab.data.image_folders import image_files
from vislab.data.images import load_image
from vislab.data.sources import load_source
from vislab.plotting.mistake_picks import Mistake
from vislab.plotting.mistakes import mistake_title
from vislab.predict import evaluate_checkpoint
from vislab.report.figure_set import FigureSet
from vislab.report.mistakes import mistake_section
from vislab.training.trainer import train

CLASSES = ("cat", "dog", "frog")


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A tiny MLP trained 1 epoch on noise images in class folders (flat layout: val and test carved
    from them, so most test predictions are wrong); (run folder, image root)."""
    root = tmp_path_factory.mktemp("images")
    write_image_folder(root, classes=CLASSES, per_class=10)
    run = tmp_path_factory.mktemp("run") / "run"
    sets = ["data.name=folder", f"data.root={root}", "data.image_size=8", "data.val_fraction=0.3"]
    sets += [
        "data.test_fraction=0.3",
        "train.epochs=1",
        "train.batch_size=8",
        "train.figures=false",
    ]
    train(tiny_config(*sets), run, quiet=True)
    return run, root


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _alone(run: Path, file: Path, top_k: int) -> list[tuple[str, float]]:
    """The top-k classes of one file, predicted on its own."""
    [(_, ranked)] = predict_images(run, [file], top_k)
    assert not isinstance(ranked, Exception), ranked
    return ranked


# ------------------------------------------------------------------------------- predict --csv
def test_a_folder_predicts_into_a_csv_row_per_image_as_each_file_alone(
    capsys, folder_run, tmp_path
):
    run, root = folder_run
    (root / "notes.txt").write_text("not an image")  # neither it nor the cache folder is read
    out = tmp_path / "new" / "predictions.csv"
    code, text = cli(capsys, "predict", run, root, "--csv", out, "--top-k", "2")
    assert code == 0, text
    assert f"30 images: {out}" in one_line(text) and "cat_0.png:" not in text  # no line per image
    one = tmp_path / "one.csv"
    code, text = cli(capsys, "predict", run, sorted(root.rglob("*.png"))[0], "--csv", one)
    assert code == 0 and f"1 image: {one}" in one_line(text), text  # not "1 images"
    rows = _rows(out)
    assert list(rows[0]) == [
        "file",
        "predicted",
        "probability",
        "class_2",
        "probability_2",
        "error",
    ]
    assert [r["file"] for r in rows] == [str(p) for p in image_files(root)]  # sorted, recursive
    assert len(rows) == 30 and {Path(r["file"]).parent.name for r in rows} == set(CLASSES)
    for row in rows[::4]:
        (best, p1), (second, p2) = _alone(run, Path(row["file"]), 2)
        assert (row["predicted"], row["class_2"], row["error"]) == (best, second, "")
        assert float(row["probability"]) == pytest.approx(p1, abs=1e-5)
        assert float(row["probability_2"]) == pytest.approx(p2, abs=1e-5)


def test_many_images_are_classified_a_batch_a_forward_pass(folder_run, monkeypatch):
    run, root = folder_run
    model, record = vislab.predict.load_model(run)
    calls = []
    model.register_forward_hook(lambda m, args, out: calls.append(len(args[0])))
    monkeypatch.setattr(vislab.classify, "load_model", lambda *a, **k: (model, record))
    monkeypatch.setattr(vislab.classify, "PREDICT_BATCH", 8)
    results = predict_images(run, [root / "cat", root / "dog"], top_k=1)
    assert calls == [8, 8, 4]  # 20 images, not 20 passes
    assert [p for p, _ in results] == image_files(root / "cat") + image_files(root / "dog")
    for path, ranked in results[::5]:
        assert ranked[0][0] == _alone(run, path, 1)[0][0]


def test_a_corrupt_image_is_its_row_s_error_and_the_others_go_on(capsys, folder_run, tmp_path):
    run, root = folder_run
    mixed = tmp_path / "mixed"
    (mixed / "sub").mkdir(parents=True)
    for i, name in enumerate(["a.png", "sub/c.jpg"]):
        Image.fromarray(np.full((9, 9, 3), 40 * i, np.uint8)).save(mixed / name)
    (mixed / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "p.csv"
    code, text = cli(capsys, "predict", run, mixed, "--csv", out)
    assert code == 2  # as for files: an image that could not be read
    assert f"{mixed / 'b.png'}: error:" in one_line(text)
    rows = {Path(r["file"]).name: r for r in _rows(out)}
    assert list(rows) == ["a.png", "b.png", "c.jpg"]
    assert "b.png" in rows["b.png"]["error"] and "not a readable image" in rows["b.png"]["error"]
    assert rows["b.png"]["predicted"] == "" and rows["a.png"]["error"] == ""
    assert rows["c.jpg"]["predicted"] == _alone(run, mixed / "sub" / "c.jpg", 1)[0][0]


def test_a_folder_without_images_is_named(capsys, folder_run, tmp_path):
    run, _ = folder_run
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "empty" / ".hidden" / "x.png")  # hidden: skipped
    (tmp_path / "empty" / "readme.txt").write_text("")
    code, text = cli(capsys, "predict", run, tmp_path / "empty", "--csv", tmp_path / "p.csv")
    assert code == 2
    assert f"'{tmp_path / 'empty'}' is a folder with no image files in it or its sub-folders" in (
        one_line(text)
    )
    assert not (tmp_path / "p.csv").exists()


def test_an_unwritable_csv_is_refused_before_any_image_is_read(capsys, folder_run, tmp_path):
    run, root = folder_run
    (tmp_path / "a_file").write_text("")
    for csv_path, said in (
        (tmp_path / "a_file" / "p.csv", f"'{tmp_path / 'a_file'}' is a file, not a folder"),
        (tmp_path, "is a folder: give a file to write"),
    ):
        code, text = cli(capsys, "predict", run, root, "--csv", csv_path)
        assert code == 2
        assert f"--csv '{csv_path}'" in one_line(text) and said in one_line(text)
        assert "cat_0.png" not in text  # nothing predicted


# ------------------------------------------------------------------- the files behind the mistakes
def test_folder_splits_name_their_files_from_a_fresh_scan_and_from_the_cache(folder_run):
    _, root = folder_run
    cfg = tiny_config("data.name=folder", f"data.root={root}", "data.image_size=8").data
    for _ in range(2):  # the second load reads the cache
        train = load_source(cfg).sets["train"]
        assert list(train.names) == [str(p) for p in image_files(root)]
        assert [CLASSES[y] for y in train.y] == [Path(n).parent.name for n in train.names]


def test_pooled_carved_and_limited_splits_keep_each_sample_s_file(tmp_path):
    for split in ("train", "test"):
        write_image_folder(tmp_path / split, classes=CLASSES, per_class=6, seed=len(split))
    sets = ["data.name=folder", f"data.root={tmp_path}", "data.image_size=8"]
    for extra in (["data.split=[20,6,6]"], ["data.official_val=false", "data.limit_eval=3"]):
        splits = load_splits(tiny_config(*sets, *extra).data, seed=0)
        files = [n for _, s in splits.items() for n in s.names]
        assert len(set(files)) == len(files) == sum(len(s) for _, s in splits.items())
        for _, s in splits.items():  # a sample's file: in its class's folder, its pixels
            for x, y, name in list(zip(s.x, s.y, s.names))[::4]:
                assert Path(name).parent.name == CLASSES[y]
                assert np.array_equal(x, load_image(Path(name), (3, 8, 8)))


def test_eval_lists_every_wrong_image_by_file_as_predicting_it_again_does(capsys, folder_run):
    run, root = folder_run
    code, text = cli(capsys, "eval", run, "--mistakes", "4")
    assert code == 0, text
    listed = run / "figures" / "mistakes_test.csv"
    assert "every wrong prediction" in text and str(listed) in one_line(text)
    rows = _rows(listed)
    acc = float(text.split("test: acc ")[1].split(",")[0])
    assert len(rows) == round((1 - acc) * 9) > 4  # every wrong one, not only the gallery's 4
    probs = [float(r["probability"]) for r in rows]
    assert probs == sorted(probs, reverse=True)  # most confident first
    for r in rows:
        file = Path(r["file"])
        assert file.is_file() and file.parent.parent == root
        assert r["true"] == file.parent.name != r["predicted"]  # its class folder: its label
        best, p = _alone(run, file, 1)[0]
        assert (best, float(r["probability"])) == (r["predicted"], pytest.approx(p, abs=1e-5))


def test_the_gallery_titles_name_the_files(folder_run):
    run, _ = folder_run
    ev = evaluate_checkpoint(run, "test", [], None, mistakes=3)
    assert len(ev.mistakes) == 3 and all(Path(m.file).is_file() for m in ev.mistakes)
    m = ev.mistakes[0]
    assert mistake_title(m, ev.scored.class_names).split("\n")[0] == Path(m.file).name  # cat_3.jpg
    long = Mistake(0, 0, 1, 0.5, "/data/cats/IMG_20240101_123456.jpg")
    assert mistake_title(long, ["cat", "dog"]) == "IMG_2…456.jpg\ncat → dog\np=0.50"


def test_the_report_names_the_gallery_s_files(folder_run, tmp_path):
    run, _ = folder_run
    loaded = vislab.load_run(run)
    figs = FigureSet(tmp_path / "figures", [])
    summary = loaded.summary
    section = mistake_section(figs, "mlp", run, summary, loaded.config)
    assert section["figures"] and not figs.notes
    files = {r["file"]: r for r in section["files"]}
    assert 0 < len(files) <= 16
    for file, r in files.items():  # each a wrong test image, as predicting it again says
        assert Path(file).parent.name == r["true"] != r["predicted"]
        assert _alone(run, Path(file), 1)[0][0] == r["predicted"]


def test_eval_lists_the_wrong_samples_of_other_data_by_index(capsys, trained, tmp_path):
    code, text = cli(capsys, "eval", trained, "--out", tmp_path, "--mistakes", "2")
    assert code == 0, text
    rows = _rows(
        tmp_path / "mistakes_test.csv"
    )  # digits: no files, the sample's place in the split
    assert rows and all(r["file"] == "" and r["index"].isdigit() for r in rows)
    assert "every wrong prediction" in text and "index, true, predicted" in text
    code, text = cli(
        capsys, "eval", trained, "--out", tmp_path, "--mistakes", "2", "--split", "val"
    )
    assert code == 0 and (tmp_path / "mistakes_val.csv").is_file()
