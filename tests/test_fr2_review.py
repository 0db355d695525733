"""Review of compare's trusted table: runs named ``<row>-s<i>`` with seeds of their own are averaged
whatever the seeds, copies are not (and the note's fix works); a checkpoint crafted to allocate memory is
refused unread; a run without its test predictions is told apart only by settings that draw its test
split (not data.image_size, nor train.seed beside an official test set); and val PACC, scored again, may
differ by one sample of its smallest class without being doubted."""

import shutil
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import torch

from conftest import cli, first_table, one_line, tiny_sets
from fixtures import write_image_folder, write_mnist
from vislab.cli import main
from vislab.experiments.results.recorded import recorded_config
from vislab.experiments.results.trust import doubted
from vislab.training.summary import RunSummary


def _rows(text: str) -> dict[str, str]:
    """Each table row of a compare's output by its run's name."""
    lines = [line for line in first_table(text) if line.startswith("| ") and "---" not in line]
    return {line.split("|")[1].strip(): line for line in lines[1:]}


def _train(out: Path, *sets: str, drop: str | None = None) -> Path:
    assert main(["train", *tiny_sets(*sets, drop=drop), "--out", str(out), "-q"]) == 0
    return out


# --------------------------------------------------------------------------------------- seeds
def test_hand_named_seeds_of_their_own_are_averaged_copies_not(capsys, tmp_path):
    _train(tmp_path / "sd" / "x-s1", "train.seed=10", drop="train.seed=0")
    _train(tmp_path / "sd" / "x-s2", "train.seed=20", drop="train.seed=0")
    code, text = cli(capsys, "compare", tmp_path / "sd")
    assert code == 0, text
    assert list(_rows(text)) == ["x"] and "| 2 |" in _rows(text)["x"]  # mean ± std over both
    assert "Not averaged" not in text
    # a copy of x-s1 named x-s2: one run counted twice, no spread over seeds
    shutil.copytree(tmp_path / "sd" / "x-s1", tmp_path / "cp" / "x-s1")
    shutil.copytree(tmp_path / "sd" / "x-s1", tmp_path / "cp" / "x-s2")
    code, text = cli(capsys, "compare", tmp_path / "cp")
    said = one_line(text)
    assert set(_rows(text)) == {"x-s1", "x-s2"}
    assert "Not averaged as seeds, though named <row>-s<i>: x-s1, x-s2 share train.seed 10." in said
    assert "each with a train.seed of its own" in said and "train.seed + i" not in said
    fix = "vislab train --config FOLDER/<run>/config.yaml --set train.seed=S --out FOLDER/<row>-s<i> --overwrite"
    assert fix in said
    # the fix, as the note gives it, makes them a row of seeds
    again = ["--config", tmp_path / "cp" / "x-s1" / "config.yaml", "--set", "train.seed=11"]
    code, out = cli(capsys, "train", *again, "--out", tmp_path / "cp" / "x-s2", "--overwrite", "-q")
    assert code == 0, out
    code, text = cli(capsys, "compare", tmp_path / "cp")
    assert list(_rows(text)) == ["x"] and "Not averaged" not in text


# ----------------------------------------------------------------------------- crafted checkpoints
def _unicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _checkpoint(path: Path, pickled: bytes) -> Path:
    """A zip laid out as torch.save's, its ``archive/data.pkl`` the bytes given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickled)
        z.writestr("archive/version", "3\n")
    return path


def _hex_bomb(times: int) -> bytes:
    """A protocol-2 pickle of ``{"config": {"k": codecs.encode(... codecs.encode("a", "latin1") ...,
    "hex")}}``: each 'hex' doubles the bytes (a few hundred bytes of file, 2**times bytes of memory)."""
    callables = b"c_codecs\nencode\nq\x00" + b"h\x00" * times  # GLOBAL, BINPUT 0, BINGET 0 ...
    inner = _unicode("a") + _unicode("latin1") + b"\x86R"  # TUPLE2, REDUCE
    nested = (_unicode("hex") + b"\x86R") * times
    value = callables + inner + nested
    return (
        b"\x80\x02}" + _unicode("config") + b"}" + _unicode("k") + value + b"ss."
    )  # PROTO 2, EMPTY_DICT, SETITEM, SETITEM, STOP


def _peak_mb(read) -> tuple[object, float]:
    tracemalloc.start()
    try:
        got = read()
        return got, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_checkpoint_crafted_with_nested_encodes_is_refused(tmp_path):
    # nested 'hex' encodes: 32 MiB from a file of a few hundred bytes
    bomb = _checkpoint(tmp_path / "hex" / "checkpoints" / "last.pt", _hex_bomb(25))
    assert bomb.stat().st_size < 1000
    got, peak = _peak_mb(lambda: recorded_config(tmp_path / "hex"))
    assert got is None and peak < 8, peak  # refused: codecs.encode but of a str in latin-1


def test_a_checkpoint_of_deflated_zeros_is_not_unpacked(tmp_path):
    # a data.pkl of deflated zeros: 32 MiB from a file of some 32 KB
    deflated = tmp_path / "zeros" / "checkpoints" / "last.pt"
    deflated.parent.mkdir(parents=True)
    with (
        zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("archive/data.pkl", "w", force_zip64=True) as f,
    ):
        for _ in range(32):
            f.write(bytes(2**20))
    assert deflated.stat().st_size < 100_000
    got, peak = _peak_mb(lambda: recorded_config(tmp_path / "zeros"))
    assert got is None and peak < 8, peak  # over PICKLE_CAP: not read


def test_real_checkpoints_still_read(trained, tmp_path):
    got = recorded_config(trained)
    assert got is not None and got[1] == "last.pt" and got[0]["train"]["epochs"] == 1
    with zipfile.ZipFile(trained / "checkpoints" / "last.pt") as z:
        pkl = next(i for i in z.infolist() if i.filename.endswith("/data.pkl"))
    assert pkl.file_size < 2**20 / 20  # a tiny run's pickle: far under the cap (1 MiB)
    # bytes, as torch.save's protocol 2 writes them (codecs.encode of a str in latin-1), still read
    run = tmp_path / "bytes"
    (run / "checkpoints").mkdir(parents=True)
    config = {"train": {"seed": 3}}
    torch.save(
        {"config": config, "blob": b"\x00\xffab", "w": torch.ones(2)},
        run / "checkpoints" / "last.pt",
    )
    assert recorded_config(run) == (config, "last.pt")


# ----------------------------------------------------------------------------- told test sets
def test_a_folder_run_resized_otherwise_has_the_same_test_set(capsys, tmp_path):
    # data.image_size resizes the images; data.val_fraction carves val after test: one test set
    write_image_folder(tmp_path / "imgs", per_class=10)
    folder = ["data.name=folder", f"data.root={tmp_path / 'imgs'}", "train.batch_size=8"]
    for name, sets in (
        ("a", ["data.image_size=16"]),
        ("b", ["data.image_size=12", "data.val_fraction=0.2"]),
    ):
        _train(tmp_path / "f" / name, *folder, *sets, drop="data.name=digits")
    (tmp_path / "f" / "b" / "predictions_test.npz").unlink()
    code, text = cli(capsys, "compare", tmp_path / "f")
    assert code == 0, text
    said = one_line(text)
    assert "Rows scored on different test images" not in said
    assert "for b (the split of a)" in said
    assert "**" in text  # ranked against each other


def test_seeds_beside_an_official_test_set_share_it(capsys, tmp_path):
    write_mnist(tmp_path / "mn" / "mnist", n_train=60, n_test=20)
    mnist = ["data.name=mnist", f"data.root={tmp_path / 'mn'}", "train.batch_size=8"]
    for seed in (0, 1):
        sets = [*mnist, f"train.seed={seed}"]
        _train(tmp_path / "m" / f"x-s{seed}", *sets, drop="data.name=digits")
    (tmp_path / "m" / "x-s1" / "predictions_test.npz").unlink()
    code, text = cli(capsys, "compare", tmp_path / "m")
    assert code == 0, text
    assert list(_rows(text)) == ["x"]
    assert "each drew their own train/val/test split" not in text
    code, text = cli(capsys, "compare", tmp_path / "m" / "x-s0", tmp_path / "m" / "x-s1")
    said = one_line(text)
    assert "Rows scored on different test images" not in said
    assert "for x-s1 (the split of x-s0)" in said


@pytest.mark.parametrize(
    "changes, draws",
    [
        ({}, False),  # mnist's official test set is the test split, whatever the seed
        ({"data.use": ["train"]}, True),  # carved from train
        ({"data.split": [40, 10, 10]}, True),  # carved from the pooled sets
        ({"data.limit_eval": 10}, True),  # sampled
        ({"data.name": "digits"}, True),  # no official test set
        ({"data.name": "folder"}, True),  # a folder's test/ is not told by the name
        ({"data.name": "digits", "data.split_seed": 3}, False),  # the split's own seed draws it
    ],
)
def test_the_seed_draws_the_test_split_only_where_it_is_carved_or_sampled(changes, draws):
    from vislab.experiments.results.told_splits import seed_draws_test  # new with the rule

    settings = {
        "data.name": "mnist",
        "data.use": ["train", "test"],
        "data.split": None,
        "data.limit_eval": None,
        "data.official_val": True,
        "data.split_seed": None,
        **changes,
    }
    assert seed_draws_test(settings.__getitem__) is draws


# ------------------------------------------------------------------------------- val PACC
def test_val_pacc_scored_again_may_differ_by_one_sample_of_its_smallest_class():
    # 40 val images: a class of 2, two of 19; the best row's class 0 at 1/2, scored again at 2/2
    row = {"epoch": 1, "val_per_class": [0.5, 18 / 19, 17 / 19]}
    row.update(val_acc=36 / 40, val_pacc=sum(row["val_per_class"]) / 3)
    again = [1.0, 18 / 19, 17 / 19]
    summary = RunSummary(
        best_epoch=1,
        n_val=40,
        val_acc=37 / 40,
        val_pacc=sum(again) / 3,
        val_per_class=dict(zip("abc", again)),
    )
    assert doubted(summary, None, [row]) == {}  # one sample: 1/40 of ACC, 1/(3·2) of PACC
    edited = summary.replace(val_pacc=row["val_pacc"] + 0.2, val_acc=38 / 40)
    assert doubted(edited, None, [row]) == {
        "val_acc": "val_acc 0.9500 (metrics.jsonl, epoch 1: 0.9000)",
        "val_pacc": f"val_pacc {row['val_pacc'] + 0.2:.4f} (metrics.jsonl, epoch 1: {row['val_pacc']:.4f})",
    }
