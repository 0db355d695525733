"""predict decodes each image file once; lr-find refuses what train refuses, where train refuses it
(session 24)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import vislab
from conftest import cli, one_line
from vislab.errors import Note


# ------------------------------------------------------------------ predict: one decoding per file
@pytest.fixture
def opened(monkeypatch) -> Counter:
    """How many times PIL opened each image file, by its name."""
    import PIL.Image

    seen: Counter = Counter()
    real = PIL.Image.open

    def counted(fp, *args, **kwargs):
        seen[Path(fp).name] += 1
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", counted)
    return seen


@pytest.fixture
def images(tmp_path, digit_png) -> list[Path]:
    """A colour PNG, a colour WebP (its colours are read from its pixels), a grey GIF (a palette image)
    and a grey PNG, for the grey digits model of ``trained``."""
    rgb = np.random.default_rng(0).integers(0, 255, (12, 12, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "red.png")
    Image.fromarray(rgb).save(tmp_path / "red.webp")
    Image.fromarray(rgb[..., 0]).convert("P").save(tmp_path / "grey.gif")
    return [tmp_path / "red.png", tmp_path / "red.webp", tmp_path / "grey.gif", digit_png]


COLOUR_NOTE = (
    "note: red.png, red.webp: colour images, converted to grey for model 'mlp', which was trained on "
    "grey images."
)


def test_predict_decodes_each_file_once_and_notes_its_colours(trained, images, opened, capsys):
    code, text = cli(capsys, "predict", trained, *images)
    assert code == 0, text
    assert opened == {p.name: 1 for p in images}
    said = one_line(text)
    assert COLOUR_NOTE in said, said
    assert "grey.gif" not in said.split("note:")[-1] and "seven.png" not in said.split("note:")[-1]


def test_run_predict_and_predict_files_decode_each_file_once(trained, images, opened):
    run = vislab.load_run(trained)
    with pytest.warns(Note, match="red.png, red.webp: colour images, converted to grey"):
        ranked = run.predict(images, top_k=1)
    assert len(ranked) == 4 and opened == {p.name: 1 for p in images}
    opened.clear()
    with pytest.warns(Note, match="red.png, red.webp: colour images, converted to grey"):
        table = run.predict_files(images, top_k=1)
    assert list(table.predicted) == [r[0][0] for r in ranked]
    assert opened == {p.name: 1 for p in images}


def test_an_unreadable_file_among_others_is_opened_once_and_named(trained, images, opened, capsys):
    broken = images[0].with_name("broken.png")
    broken.write_bytes(b"not an image")
    code, text = cli(capsys, "predict", trained, broken, images[0])
    assert f"'{broken}' is not a readable image (UnidentifiedImageError)" in one_line(text), text
    assert "red.png: colour image, converted to grey" in one_line(text)
    assert opened == {"broken.png": 1, "red.png": 1}


# ----------------------------------------------------------- lr-find: refused where train refuses

# the mistakes of model options vislab train refuses before it loads any data, and what it says
MODEL_MISTAKES = {
    "misspelt option": (
        ["model.name=mlp", "model.hiden=[8]"],
        "model 'mlp' has no option 'model.hiden'. Did you mean 'model.hidden'?",
    ),
    "value out of range": (
        ["model.name=vit", "model.patch_size=0"],
        "model.patch_size=0 must be at least 1 for model 'vit'.",
    ),
    "another model's option": (
        ["model.patch_size=4"],
        "unknown config key 'model.patch_size': no model.name was given",
    ),
}
# mistakes that need the data to be seen (its image size, its number of samples, its folder): both
# commands refuse them as they load it
DATA_MISTAKES = {
    "patch size that does not divide the images": [
        "data.name=digits",
        "model.name=vit",
        "model.patch_size=3",
    ],
    "data.limit below the batch": ["data.name=digits", "data.limit=20", "train.batch_size=64"],
    "missing data.root": ["data.name=folder", "data.root=no/such/folder"],
}


@pytest.fixture
def no_loading(monkeypatch):
    """Fails the test if any command loads its data."""
    import vislab.training.parts as parts

    def loaded(*args, **kwargs):
        pytest.fail("the data was loaded before the mistake was refused")

    monkeypatch.setattr(parts, "prepare_data", loaded)


def _both(capsys, tmp_path, *args) -> dict[str, tuple[int, str]]:
    """(exit code, output) of `vislab train` and `vislab lr-find` with the same arguments."""
    return {
        "train": cli(capsys, "train", "-o", tmp_path / "run", *args),
        "lr-find": cli(capsys, "lr-find", "-o", tmp_path / "lr.png", "--steps", "10", *args),
    }


@pytest.mark.parametrize("mistake", MODEL_MISTAKES)
def test_lr_find_refuses_a_model_option_before_loading_the_data_as_train_does(
    mistake, no_loading, capsys, tmp_path
):
    sets, words = MODEL_MISTAKES[mistake]
    args = [x for s in ["data.name=digits", "train.device=cpu", *sets] for x in ("--set", s)]
    said = _both(capsys, tmp_path, *args)
    for command, (code, text) in said.items():
        assert code == 2, (command, text)
        assert "Invalid config (--set):" in text, (command, text)
        assert words in one_line(text), (command, text)
    assert said["lr-find"] == said["train"]
    assert not (tmp_path / "lr.png").exists()


def test_lr_find_names_the_config_file_that_holds_a_bad_model_option(no_loading, capsys, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump({"data": {"name": "digits"}, "model": {"name": "mlp", "hiden": [8]}})
    )
    said = _both(capsys, tmp_path, "--config", config)
    code, text = said["lr-find"]
    assert code == 2, text
    assert f"Invalid config ({config}):" in text
    assert "Did you mean 'model.hidden'?" in text
    assert said["lr-find"] == said["train"]


@pytest.mark.parametrize("mistake", DATA_MISTAKES)
def test_lr_find_refuses_a_data_mistake_in_trains_words(mistake, capsys, tmp_path):
    args = [x for s in ["train.device=cpu", *DATA_MISTAKES[mistake]] for x in ("--set", s)]
    said = _both(capsys, tmp_path, *args)
    assert said["lr-find"][0] == said["train"][0] == 2, said
    assert said["lr-find"][1] == said["train"][1]
    assert not (tmp_path / "lr.png").exists()
