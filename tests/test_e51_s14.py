"""A second look at this session's refactors (E51): the note on two weight averages names the model's own
option only where the run's model takes it — a user's builder on top of `fast` was told to set
model.ema_decay, an option it does not have."""

from conftest import cli, one_line

MY_FAST = """
from vislab.models.fast import fast


def build(input_shape, num_classes, width: int = 0):
    return fast(input_shape, num_classes, widths=[8, 16, 16])
"""


def test_the_two_averages_note_names_no_option_a_users_builder_lacks(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "myfast.py").write_text(MY_FAST)
    sets = ["data.name=digits", "data.resize=32", "data.limit=64", "train.batch_size=32",
            "train.epochs=1", "train.figures=false", "train.device=cpu", "model.name=myfast.py:build",
            "train.ema.decay=0.9"]  # fmt: skip
    code, out = cli(capsys, "train", *(a for s in sets for a in ("--set", s)), "--out", "r", "-q")
    said = one_line(out)
    assert code == 0 and "an average of an average" in said, said
    assert "model.ema_decay" not in said and "the model's own setting" in said, said
