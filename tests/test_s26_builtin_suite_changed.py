"""Session 26: a built-in suite whose file changed since its folder was made (vit-study and timm-mnist
gained train.eval_at_start and train.track_test) cannot be re-run "with the suite file it was run with":
the refusal gives the --set that keeps the folder's values instead."""

from __future__ import annotations

import json

from conftest import cli, one_line


def test_a_changed_builtin_suite_says_the_set_that_keeps_the_folders_runs(capsys, tmp_path):
    out = tmp_path / "qs"
    first = ["suite", "quickstart", "--only", "mlp", "--epochs", "1", "--out", str(out)]
    first.append("--no-report")  # no test here reads a report
    # the folder as an older built-in file made it: another eval_at_start, which its suite.json does
    # not record as an option given
    code, text = cli(capsys, *first, "--set", "train.eval_at_start=true")
    assert code == 0, text
    info = json.loads((out / "suite.json").read_text())
    info["overrides"] = [s for s in info["overrides"] if not s.startswith("train.eval_at_start")]
    (out / "suite.json").write_text(json.dumps(info))
    code, text = cli(capsys, *first)
    said = one_line(text)
    assert code != 0 and "Traceback" not in text, text
    assert "train.eval_at_start" in said and "nothing was trained or written" in said, said
    assert (
        "The built-in suite 'quickstart' may have changed since (docs/upgrading.md): to go on with the "
        "runs as they are, add --set train.eval_at_start=true (Python: "
        "overrides=['train.eval_at_start=true'])" in said
    ), said
    assert "Re-run it with the suite file" not in said, said
    code, text = cli(capsys, *first, "--set", "train.eval_at_start=true")  # the fix works
    assert code == 0, text


def test_a_suite_file_of_ones_own_keeps_the_rerun_advice(capsys, tmp_path):
    suite = tmp_path / "mine.yaml"
    suite.write_text(
        "base: {data: {name: digits, limit: 200}, train: {epochs: 1}}\nruns: {mlp: {model.name: mlp}}\n"
    )
    out = tmp_path / "mine"
    first = ["suite", str(suite), "--out", str(out), "--no-report"]  # no report read here
    assert cli(capsys, *first, "--set", "optim.lr=0.01")[0] == 0
    code, text = cli(capsys, *first)
    said = one_line(text)
    assert code != 0 and "Re-run it with the suite file and options it was run with" in said, said
    assert "built-in suite" not in said, said


def test_the_users_own_set_is_named_not_a_changed_builtin_suite(capsys, tmp_path):
    out = tmp_path / "q4"
    first = ["suite", "quickstart", "--only", "mlp", "--epochs", "1", "--out", str(out)]
    first.append("--no-report")  # no test here reads a report
    assert cli(capsys, *first, "--set", "optim.lr=0.01")[0] == 0
    code, text = cli(capsys, *first)
    said = one_line(text)
    assert code != 0 and "built-in suite" not in said, said
    assert "Re-run it with the suite file and options it was run with (suite.json:" in said, said
    assert "--set optim.lr=0.01" in said, said


def test_the_set_it_suggests_is_one_shell_word_each(tmp_path):
    from vislab.experiments.suites.plan import PlannedRun
    from vislab.experiments.suites.refusals import _builtin_changed
    from vislab.experiments.suites.spec import load_suite

    was = {"optim.betas": [0.8, 0.99], "train.eval_at_start": False}
    plan = [PlannedRun("mlp", tmp_path / "mlp", "failed", was=was)]
    said = _builtin_changed(load_suite("quickstart"), plan, tmp_path)
    assert "add --set 'optim.betas=[0.8, 0.99]' --set train.eval_at_start=false (Python:" in said, (
        said
    )
