"""``vislab train --resume RUN --nproc N`` reads the run's ``train.device`` from its last.pt before any
worker starts (``launch.check_launchable``): a last.pt whose stored config lacks it (an older or
hand-edited file) resumes at the setting's default, ``auto``, as the workers' own reading of that config
does — not with a KeyError."""

from __future__ import annotations

import shutil

import pytest
import torch

from conftest import tiny_config
from vislab.training.launch import check_launchable
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("r1") / "run"
    train(tiny_config("train.epochs=1"), run, quiet=True)
    return run


def test_the_device_of_a_resume_is_the_one_its_last_pt_stored(finished_run):
    assert check_launchable(None, finished_run) == "cpu"


def test_a_last_pt_without_train_device_resumes_at_the_default(finished_run, tmp_path):
    run = shutil.copytree(finished_run, tmp_path / "run")
    last = run / "checkpoints" / "last.pt"
    saved = torch.load(last, weights_only=False)
    del saved["config"]["train"]["device"]
    torch.save(saved, last)
    assert check_launchable(None, run) == "auto"
