"""Session 23, group F5: the commands' words where users found them wrong — an LR range test cut short
or blowing up, eval of a read-only run, --config given a run's folder or file, export's score of a
last.pt, --block on a CNN, a model with no options, a report of no finished run, a report older than
a resume's weights."""

import json
import os
import shutil

import pytest
import torch

import vislab.training.lr_find as lr_find_module
from conftest import cli, one_line, tiny_config
from vislab.errors import UserError
from vislab.explain_maps import check_block
from vislab.export_spec import weights_origin
from vislab.training.checkpoint import pick_checkpoint
from vislab.training.lr_find import lr_find, lr_range_test
from vislab.training.lr_finding import RangeTest
from vislab.training.optim import build_optimizer


# ------------------------------------------------------------------------------------------- lr-find
def test_an_lr_range_test_cut_short_suggests_no_lr(monkeypatch):
    real, taken = lr_find_module._step, []

    def step(*args, **kwargs):  # a Ctrl-C at the 9th step
        taken.append(1)
        if len(taken) == 9:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lr_find_module, "_step", step)
    found = lr_find(tiny_config(), RangeTest(steps=30))
    said = one_line(" ".join(found.lines()))
    assert "suggested optim.lr" not in said and "no lr suggested: the range was cut short" in said
    assert "no lr suggested after 8 steps (interrupted)" in repr(found)
    ax = found.plot().axes[0]
    assert not [x for x in ax.lines if x.get_label().startswith("suggested")]
    assert "no lr suggested" in ax.get_title()


def test_an_lr_range_test_stops_where_the_loss_climbs_back_above_its_start():
    """Cross-entropy saturates: a loss that falls from 2.3 to 2.0 and then jumps to 3.5 never passes 4×
    its minimum (8.0), but it has diverged."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = build_optimizer(model.parameters(), tiny_config().optim)
    batches = iter(lambda: (torch.randn(8, 4), torch.randint(0, 3, (8,))), None)

    def loss_fn(logits, y):
        lr = opt.param_groups[0]["lr"]
        value = 2.3 if lr < 1e-3 else 2.0 if lr < 1e-2 else 3.5
        return logits.sum() * 0 + value

    found = lr_range_test(model, opt, batches, RangeTest(steps=100), loss_fn=loss_fn)
    assert (
        "passed 2.76: its start (2.3, the mean of its first 10 steps) by more than 20%"
        in found.stopped
    )
    assert found.lrs[-1] < 0.05  # not on to lr 10
    assert found.suggestion < 1e-2


# ---------------------------------------------------------------------------------------------- eval
def test_eval_of_a_read_only_run_scores_nothing_and_names_out(
    capsys, trained, tmp_path, monkeypatch
):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    import vislab.cli.scores as scores

    def read_only(*args, **kwargs):
        raise UserError("read-only")

    monkeypatch.setattr(scores, "check_writable", read_only)
    code, out = cli(capsys, "eval", run)
    said = one_line(out)
    assert code == 2 and "test: acc" not in said
    assert f"into '{run / 'figures'}', which cannot be written" in said
    assert "nothing was scored" in said and "--out DIR" in said


# -------------------------------------------------------------------------------------------- --config
def test_config_given_a_run_folder_or_its_summary_names_config_yaml_and_resume(capsys, trained):
    for given in (trained, trained / "summary.json"):
        code, out = cli(capsys, "train", "--config", given)
        said = one_line(out)
        assert code == 2, out
        assert f"Config file '{given}'" in said
        assert f"--config {trained / 'config.yaml'}" in said and f"--resume {trained}" in said


def test_a_config_whose_model_is_no_mapping_is_named(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: 3\n")
    code, out = cli(capsys, "train", "--config", bad)
    said = one_line(out)
    assert code == 2 and f"Invalid config ({bad})" in said and "--set model.name=mlp" in said


# -------------------------------------------------------------------------------------------- export
def test_export_of_last_pt_gives_the_score_where_it_holds_the_scored_weights(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    scored = json.loads((run / "summary.json").read_text())["test_acc"]
    assert weights_origin(pick_checkpoint(run, "last")).test_acc == scored  # 1 epoch: best is last
    last = run / "checkpoints" / "last.pt"
    ckpt = torch.load(last, weights_only=False, map_location="cpu")
    first = next(iter(ckpt["state_dict"]))
    ckpt["state_dict"][first] = ckpt["state_dict"][first] + 1
    torch.save(ckpt, last)
    assert weights_origin(pick_checkpoint(run, "last")).test_acc is None  # other weights: no score


# ------------------------------------------------------------------------------------- explain, model
def test_block_on_a_model_without_attention_says_what_block_picks():
    with pytest.raises(UserError) as told:
        check_block(0, "gradcam", attends=False)
    said = one_line(str(told.value))
    assert (
        "--block 0 / block=0 picks an attention block (--block alone means --method attention)"
        in said
    )
    assert "only a ViT has them" in said and "Drop the block" in said


def test_model_info_of_a_model_without_options_says_so(capsys):
    code, out = cli(capsys, "model", "info", "majority", "--input", "1x8x8")
    assert code == 0, out
    assert "majority has no options." in out and "options of majority" not in out


# -------------------------------------------------------------------------------------------- report
def test_report_of_a_folder_with_no_finished_run_is_refused(capsys, tmp_path):
    run = tmp_path / "fake2"
    run.mkdir()
    (run / "config.yaml").write_text("")
    code, out = cli(capsys, "report", run)
    said = one_line(out)
    assert code == 2, out
    assert f"no finished run to report in {run}: fake2 is not finished" in said
    assert "then write its report" in said
    assert not (run / "report.html").exists()


def test_a_resume_that_trains_says_the_report_is_older_than_the_weights(capsys, trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "figures").mkdir(exist_ok=True)
    for made in (run / "report.html", run / "figures" / "mistakes_test.csv"):  # before the resume
        made.write_text("x")
        os.utime(made, (1, 1))
    code, out = cli(capsys, "train", "--resume", run, "--epochs", "2", "--quiet")
    said = one_line(out)
    assert code == 0, out
    assert (
        f"{run}'s report.html and eval's files in figures/ show the weights it had before this "
        f"resume trained on: draw them again with vislab report {run} (Python: "
        f"vislab.write_report('{run}')); vislab eval {run}"
    ) in said
    code, out = cli(capsys, "train", "--resume", run)  # trains nothing: says nothing of them
    assert code == 0 and "before this resume" not in out


def test_a_run_without_weights_whose_config_is_broken_is_not_told_to_train_from_it(
    tmp_path, capsys
):
    """No checkpoint and a config.yaml that is not YAML: the advice is a config of the user's, and why
    the run's own cannot be used — not `vislab train --config RUN/config.yaml`, which fails on it."""
    run = tmp_path / "fake"
    run.mkdir()
    (run / "config.yaml").write_text("model: [\n")
    code, text = cli(capsys, "eval", run)
    said = one_line(text)
    assert code == 2 and "Traceback" not in text, text
    assert f"--config {run / 'config.yaml'}" not in said, said
    assert "vislab train --config YOUR_CONFIG.yaml --out NEW_FOLDER" in said
    assert "its own cannot be used" in said and "not valid YAML" in said, said
