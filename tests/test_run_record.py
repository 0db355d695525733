"""The typed run record: checkpoints written by earlier vislab still load, evaluate and predict the
same; the record round-trips; the input spec is the one evaluation transform; nothing outside the
record module reads a checkpoint by string key."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import vislab
from vislab.config import build_config
from vislab.data.crop import centre_crop
from vislab.data.input_spec import InputSpec
from vislab.data.preprocess import NormStats, apply_stats
from vislab.errors import DataError
from vislab.training.checkpoint import load_checkpoint, save_checkpoint
from vislab.training.record import Checkpoint
from vislab.training.resume import open_resume
from vislab.training.rundir import RunDir

OLD_RUN = Path(__file__).parent / "data" / "run_v0_1"  # written by vislab main of 2026-12-03
EXPECTED = json.loads((OLD_RUN / "EXPECTED.json").read_text())
SRC = Path(vislab.__file__).parent


def test_an_old_checkpoint_loads_as_a_typed_record():
    ckpt = load_checkpoint(OLD_RUN / "checkpoints" / "best.pt")
    r = ckpt.record
    assert r.model.name == "cnn" and r.model.kwargs["widths"] == [4, 8]
    assert r.model.class_names == [str(i) for i in range(10)] and r.model.num_classes == 10
    assert r.inputs.sample_shape == (1, 8, 8) and r.inputs.input_shape == (1, 6, 6)
    assert r.inputs.crop_size == 6 and r.inputs.stats.mode == "standard"
    assert r.config["data"]["name"] == "digits" and ckpt.epoch == 1 and ckpt.resume is None
    assert build_config(r.config).augment.crop.size == 6


def test_an_old_last_pt_is_resumable():
    ckpt = open_resume(RunDir(OLD_RUN))
    assert ckpt.resume.loop.epoch == 1 and len(ckpt.resume.history) == 1
    assert ckpt.resume.optimizer is not None


def test_an_old_run_evaluates_and_predicts_as_it_did():
    run = vislab.load_run(OLD_RUN)
    m = run.evaluate("test")
    want = EXPECTED["evaluate_test"]
    assert m["n"] == want["n"]
    assert m["acc"] == pytest.approx(want["acc"]) and m["auc"] == pytest.approx(want["auc"])
    ramp = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    [top3] = run.predict([ramp], top_k=3)
    assert [c for c, _ in top3] == [c for c, _ in EXPECTED["predict_ramp_top3"]]
    assert [p for _, p in top3] == pytest.approx([p for _, p in EXPECTED["predict_ramp_top3"]])


def test_an_old_run_resumes_to_more_epochs(tmp_path):
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    last = run / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last)
    ckpt.record.config["train"]["epochs"] = 2  # continue the old run for one more epoch
    save_checkpoint(last, ckpt)
    summary = vislab.train(out=run, resume=True).summary
    assert summary["status"] == "complete" and summary["epochs_run"] == 2


def test_the_record_round_trips(tmp_path):
    ckpt = load_checkpoint(OLD_RUN / "checkpoints" / "last.pt")
    save_checkpoint(tmp_path / "again.pt", ckpt)
    again = load_checkpoint(tmp_path / "again.pt")
    assert again.record.model == ckpt.record.model and again.record.config == ckpt.record.config
    assert again.resume.loop == ckpt.resume.loop and again.resume.history == ckpt.resume.history
    assert again.state_dict.keys() == ckpt.state_dict.keys()


@pytest.mark.parametrize("field", ["model_name", "class_names", "input_shape", "preprocess"])
def test_a_record_missing_a_field_names_it(tmp_path, field):
    d = load_checkpoint(OLD_RUN / "checkpoints" / "best.pt").to_dict()
    del d[field]
    with pytest.raises(DataError, match=field):
        Checkpoint.from_dict(d, "x.pt")


def test_the_input_spec_is_the_evaluation_transform():
    stats = NormStats("standard", torch.tensor([0.5]), torch.tensor([0.25]))
    spec = InputSpec((1, 8, 8), (1, 6, 6), stats)
    assert spec.crop_size == 6 and spec.is_image
    assert spec.crop_window == {"image_size": [8, 8], "size": 6, "top": 1, "left": 1}
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    want = apply_stats(centre_crop(x, 6), stats)
    assert torch.allclose(spec.images(list(images)), want)
    assert torch.allclose(spec.prepare(x), want)
    whole = InputSpec((1, 8, 8), (1, 8, 8), stats)
    assert whole.crop_size is None and whole.crop_window is None


def test_no_module_reads_a_checkpoint_by_string_key():
    """Checkpoint contents are read through the typed record; only training/record.py knows the keys."""
    pattern = re.compile(r"""\b(ckpt|meta|checkpoint)(\.get\(|\[)\s*["']""")
    found = [
        f"{path.relative_to(SRC)}:{i}: {line.strip()}"
        for path in SRC.rglob("*.py")
        if path.name != "record.py"
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
