"""`vislab explain` on a class-folder dataset (per-class file names repeat: cat/0.png, dog/0.png) and
in-memory data with text labels (``data=(x, np.array(["cat", "dog", ...]))``)."""

import importlib.util

import numpy as np
import pytest
from PIL import Image

import vislab
from conftest import TINY_RUN, cli, one_line
from vislab.config import DataConfig
from vislab.data.sources import load_source
from vislab.data.sources.memory import register_arrays
from vislab.errors import DataError
from vislab.predict import load_model

needs_captum = pytest.mark.skipif(
    importlib.util.find_spec("captum") is None, reason="pip install 'vislab[explain]'"
)


# ----------------------------------------------------------------------------- explain: file names
def _class_folders(root, seed=0):
    """root/cat/0.png, root/cat/1.png, root/dog/0.png: the file names repeat from class to class."""
    rng = np.random.default_rng(seed)
    for name in ("cat/0.png", "cat/1.png", "dog/0.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(root / name)
    return root


@needs_captum
def test_a_class_folder_is_explained_one_png_per_image_named_by_its_path(trained, tmp_path, capsys):
    test = _class_folders(tmp_path / "sp" / "TEST")
    out = tmp_path / "out"
    code, text = cli(capsys, "explain", trained, test, "-m", "saliency", "--out", out)
    assert code == 0, text
    pngs = ["cat_0_saliency.png", "cat_1_saliency.png", "dog_0_saliency.png"]
    assert sorted(p.name for p in out.iterdir()) == pngs
    # an image given as a file keeps its own name
    code, text = cli(
        capsys, "explain", trained, test / "dog" / "0.png", "-m", "saliency", "-o", out
    )
    assert code == 0 and (out / "0_saliency.png").is_file(), text


@needs_captum
def test_two_folders_of_the_same_layout_are_still_refused_before_drawing(trained, tmp_path, capsys):
    a, b = _class_folders(tmp_path / "a"), _class_folders(tmp_path / "b", seed=1)
    out = tmp_path / "out"
    code, text = cli(capsys, "explain", trained, a, b, "-m", "saliency", "--out", out)
    said = one_line(text)
    assert code == 2 and f"'{a / 'cat' / '0.png'}' and '{b / 'cat' / '0.png'}'" in said, said
    assert "cat_0_saliency.png" in said and not out.exists()


@needs_captum
def test_run_explain_titles_a_folder_s_images_by_their_paths_in_it(trained, tmp_path):
    test = _class_folders(tmp_path / "TEST")
    fig = vislab.load_run(trained).explain(test, method="saliency")
    titles = [row._suptitle.get_text().split(":")[0] for row in fig.subfigs]
    assert titles == ["cat/0.png", "cat/1.png", "dog/0.png"]


# ------------------------------------------------------------------------------ text labels
def _brightness(n=40, seed=0):
    """``n`` 8×8 grey images; 'light' ones bright, 'dark' ones dim, as text labels."""
    rng = np.random.default_rng(seed)
    light = rng.permutation(np.arange(n) % 2).astype(bool)
    x = (rng.integers(0, 60, (n, 8, 8)) + 180 * light[:, None, None]).astype(np.uint8)
    return x, np.where(light, "light", "dark")


def test_text_labels_train_a_run_whose_classes_are_their_sorted_names(tmp_path):
    x, y = _brightness()
    run = vislab.train(data=(x, y), out=tmp_path / "run", train__batch_size=8, **TINY_RUN)
    _, record = load_model(run.path)
    assert record.model.class_names == ["dark", "light"]
    [top] = run.predict(x[:1], top_k=1)
    assert top[0][0] == y[0]


@pytest.mark.parametrize(
    "y",
    [
        ["b", "a", "c", "a"],  # a list of str
        np.array(["b", "a", "c", "a"], dtype=object),  # an object array (a pandas column)
        np.array([b"b", b"a", b"c", b"a"]),  # bytes
        np.array([["b"], ["a"], ["c"], ["a"]]),  # an N×1 column
    ],
)
def test_text_labels_are_their_index_among_the_sorted_names(y):
    source = load_source(DataConfig(name=register_arrays(np.zeros((4, 8)), y)))
    assert source.class_names == ["a", "b", "c"]
    assert source.sets["train"].y.tolist() == [1, 0, 2, 0]


def test_given_class_names_order_text_labels_and_name_what_is_missing():
    x = np.zeros((3, 8))
    source = load_source(DataConfig(name=register_arrays(x, ["b", "a", "b"], ["b", "a", "c"])))
    assert source.class_names == ["b", "a", "c"] and source.sets["train"].y.tolist() == [0, 1, 0]
    with pytest.raises(
        DataError, match=r"y holds the label 'emu', not among the class names \(a, b\)"
    ):
        register_arrays(x, ["a", "emu", "b"], ["a", "b"])


def test_a_test_set_s_text_labels_are_named_by_train_s_classes():
    x, y = _brightness()
    name = register_arrays({"train": (x, y), "test": (x[:3], ["light", "dark", "light"])})
    source = load_source(DataConfig(name=name))
    assert source.sets["test"].y.tolist() == [1, 0, 1]
    with pytest.raises(DataError, match=r"data\['test'\]: y holds the label 'grey'"):
        register_arrays({"train": (x, y), "test": (x[:2], ["grey", "dark"])})


def test_labels_mixing_text_and_numbers_are_refused_naming_the_first():
    y = np.array(["a", "b", None, 1], dtype=object)
    with pytest.raises(DataError, match=r"y mixes text labels with other values \(y\[2\] = None\)"):
        register_arrays(np.zeros((4, 8)), y)
