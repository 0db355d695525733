"""Tests for behaviours a mutation could break unseen (mutation testing of config, look-inside, report and
shared suites)."""

import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import vislab
from conftest import cli, one_line, tiny_config
from figures_skipped import skip_report_figures
from test_suite_dry_run import write_suite
from vislab.config.differences import with_neutral_settings
from vislab.config.overrides import parse_value
from vislab.experiments.shared import heartbeat
from vislab.explain_maps import explain_maps
from vislab.report.run_sections import row_headline
from vislab.training.summary import RunSummary

TABLE_ROW = '<tr data-run="{}">'  # a run's row in report.html's results table


def test_set_value_is_a_mapping_only_when_written_in_braces():
    """``--set data.options={split: balanced}`` gives a mapping; 'net.py:' and 'a: b' stay text."""
    assert parse_value("{a: 1}") == {"a": 1}
    assert parse_value(" {split: balanced}") == {"split": "balanced"}
    assert parse_value("net.py:") == "net.py:"
    assert parse_value("a: b") == "a: b"


def test_set_key_with_spaces_around_the_equals_sign():
    """``--set "optim.lr = 0.1"`` sets optim.lr, as ``optim.lr=0.1`` does."""
    assert vislab.load_config(overrides=["optim.lr = 0.1"]).optim.lr == 0.1


def test_resume_keeps_track_settings_a_stored_config_had_no_section_for():
    """A stored config without ``track:`` takes the track.* settings the resume gives."""
    out = with_neutral_settings({"optim": {}}, {"track": {"wandb": True}, "optim": {}})
    assert out["track"] == {"wandb": True}


def _epoch_lrs(out: Path, *overrides: str) -> list[float]:
    """The lr of each epoch row of a tiny run trained with ``overrides`` (metrics.jsonl)."""
    vislab.train(tiny_config("optim.lr=1.0", *overrides), out=out, quiet=True)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["lr"] for r in rows if r.get("epoch", 0) >= 1 and r.get("lr") is not None]


def test_step_and_exponential_schedules_default_gamma(tmp_path):
    """Without schedule.gamma, step cuts the lr ×0.1 after step_size epochs, exponential ×0.95 an epoch."""
    step = _epoch_lrs(tmp_path / "step", "schedule.name=step", "schedule.step_size=1")
    assert step == pytest.approx([1.0, 0.1])
    expo = _epoch_lrs(tmp_path / "expo", "schedule.name=exponential")
    assert expo == pytest.approx([1.0, 0.95])


def test_fast_preset_is_the_documented_recipe():
    """README: the fast model with flip TTA, translate by up to 2 px + alternating flip, label smoothing 0.2,
    10 epochs at batch 512 of Nesterov SGD (lr 0.2, momentum 0.9, weight decay 5e-4), one-cycle, best.pt
    by val_acc, on CIFAR-10."""
    cfg = vislab.load_config("fast")
    assert cfg.model.name == "fast" and cfg.data.name == "cifar10"
    assert cfg.model.tta == "flip" and cfg.model.alternate_flip is True
    assert (cfg.augment.crop.p, cfg.augment.crop.padding) == (1.0, 2)
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == ("sgd", 0.2, 0.9)
    assert cfg.optim.nesterov is True and cfg.optim.weight_decay == 5e-4
    assert (cfg.schedule.name, cfg.train.epochs, cfg.train.batch_size) == ("onecycle", 10, 512)
    assert (cfg.train.label_smoothing, cfg.train.select_metric) == (0.2, "val_acc")


def test_saliency_is_the_channel_max_of_the_absolute_logit_gradient():
    """An RGB image's saliency map: max over its channels of |∂ logit of the target / ∂ pixel|."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 3))
    x, target = torch.randn(2, 3, 4, 4), torch.tensor([0, 2])
    maps = explain_maps(model, x, "saliency", target=target)
    xg = x.clone().requires_grad_(True)
    model(xg).gather(1, target[:, None]).sum().backward()
    expected = xg.grad.abs().amax(1, keepdim=True)
    assert maps.shape == (2, 1, 4, 4)
    assert torch.allclose(maps, expected)
    assert not torch.allclose(maps, xg.grad.abs().mean(1, keepdim=True))


def test_report_leaves_a_run_trained_with_other_settings_out_of_its_results_table(
    tmp_path, capsys, monkeypatch
):
    """After ``suite --epochs 2 --only mlp``, the report's results table has no row for ``wide``, which
    its folder holds trained for 1 epoch."""
    spec = write_suite(tmp_path / "s.yaml", {"mlp": {}, "wide": {"model.hidden": [32]}})
    out = tmp_path / "out"
    assert cli(capsys, "suite", spec, "--out", out, "--no-report")[0] == 0
    args = ("--epochs", "2", "--only", "mlp", "--no-report")
    assert cli(capsys, "suite", spec, "--out", out, *args)[0] == 0
    skip_report_figures(monkeypatch)
    assert cli(capsys, "report", out)[0] == 0
    page = one_line((out / "report.html").read_text())
    assert "<b>wide</b>: not trained with these settings" in page
    assert TABLE_ROW.format("mlp") in page
    assert TABLE_ROW.format("wide") not in page


def _summary(acc: float | None, pacc: float | None) -> RunSummary:
    return RunSummary(status="complete", model="mlp", test_acc=acc, test_pacc=pacc, params=10)


def test_a_fully_scored_row_headline_does_not_count_its_scored_seeds():
    """Every seed scored: the headline gives mean ± std, without '(3 of 3 scored)'."""
    line = row_headline([_summary(0.8, 0.7), _summary(0.9, 0.8), _summary(1.0, 0.9)])
    assert "test ACC 0.9000 ± 0.1000, PACC 0.8000 ± 0.1000 over 3 seeds" in line
    assert "scored" not in line


def test_a_worker_beats_its_claims_every_heartbeat_s(monkeypatch):
    """A worker's heartbeat marks its claims alive every heartbeat_s (0.05 s), far more often than
    lapse_s (5 s), after which another worker would take them over."""
    beats: list[dict] = []
    times = [time.monotonic()]  # the start, then each beat
    beaten = threading.Event()

    @contextmanager
    def transaction(conn, storage):
        def execute(sql, params):
            beats.append(params)
            times.append(time.monotonic())
            if len(beats) >= 3:
                beaten.set()

        yield SimpleNamespace(execute=execute)

    monkeypatch.setattr(heartbeat, "connect_postgres", lambda storage: object())
    monkeypatch.setattr(heartbeat, "transaction", transaction)
    storage = SimpleNamespace(heartbeat_s=0.05, lapse_s=5.0)
    beat = heartbeat.Heartbeat(storage, "s", "w1", print, threading.Event())
    beat.start()
    try:
        assert beaten.wait(2.0), f"{len(beats)} beats in 2 s at heartbeat_s=0.05"
    finally:
        beat.stop()
    assert beats[0] == {"suite": "s", "worker": "w1"}
    gaps = [later - earlier for earlier, later in zip(times, times[1:3])]
    assert max(gaps) < 0.5, f"beats {gaps} s apart at heartbeat_s=0.05 (lapse_s=5)"


def test_each_map_in_arbitrary_units_is_scaled_on_its_own():
    """Grad-CAM/saliency maps have no units: each is min-max scaled by itself, so a weak map of one image
    is not drawn flat beside a strong one."""
    from vislab.plotting.explain import upsample_maps

    maps = torch.stack([torch.arange(4.0).reshape(2, 2), 100 * torch.arange(4.0).reshape(2, 2)])
    scaled = upsample_maps(maps, (2, 2))
    assert scaled.shape == (2, 2, 2)
    assert [(m.min(), m.max()) for m in scaled] == [(0.0, 1.0), (0.0, 1.0)]
