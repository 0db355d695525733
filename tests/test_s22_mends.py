"""Small mends of the twenty-second session: notes a user was owed."""

from __future__ import annotations

import pytest
from PIL import Image

import vislab
from conftest import cli, one_line
from vislab.errors import Note


def test_a_colour_image_predicted_by_a_grey_model_is_noted_as_converted(
    trained, digit_png, capsys, tmp_path
):
    red = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (200, 20, 20)).save(red)
    code, text = cli(capsys, "predict", trained, red, digit_png)
    assert code == 0, text
    said = one_line(text)
    assert "red.png: colour image, converted to grey for model" in said, said
    assert "seven.png:" not in said.split("note:")[-1]  # a grey image is not converted
    with pytest.warns(Note, match="red.png: colour image, converted to grey"):
        vislab.load_run(trained).predict([red])
