"""What users re-running suites into a folder found: a run the suite file no longer lists dropped out of
every table without a word; a --set that the majority baseline never reads refused its finished run; a run
starting from a sibling listed after it failed (its sibling not trained yet) though the dry run said it
starts; a run that diverged stayed failed after its setting was changed; and a negative --heartbeat was
blamed on --heartbeat-lapse."""

from __future__ import annotations

import shutil

import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_base, tiny_suite
from vislab.errors import SuiteFailed, UserError
from vislab.experiments.shared.postgres import SharedStorage


def _write(path, tree: dict):
    path.write_text(yaml.safe_dump(tree))
    return path


def test_a_run_the_suite_file_no_longer_lists_is_refused_not_dropped_from_the_tables(tmp_path):
    mine = _write(tmp_path / "mine.yaml", tiny_suite(runs__mlp_mine={"optim.lr": 0.01}))
    plain = _write(tmp_path / "plain.yaml", tiny_suite())
    out = tmp_path / "s"
    vislab.run_suite(mine, out=out, quiet=True)
    with pytest.raises(UserError) as e:
        vislab.run_suite(plain, out=out, quiet=True)
    said = one_line(str(e.value))
    assert "1 of its runs there is not in the suite file asked for" in said, said
    assert f"- mlp_mine ({out / 'mlp_mine'})" in said, said
    assert "nothing was trained or written" in said and "--overwrite" in said, said
    assert "mlp_mine" in (out / "results.md").read_text()  # the tables still hold it
    vislab.run_suite(mine, out=out, quiet=True)  # the suite file it was run with: no refusal
    shutil.rmtree(out / "mlp_mine")  # the fix the message gives to leave it out
    done = vislab.run_suite(plain, out=out, quiet=True)
    assert sorted(done.runs) == ["majority", "mlp"]


def test_a_set_the_majority_baseline_never_reads_does_not_refuse_its_finished_run(tmp_path, capsys):
    suite = _write(tmp_path / "kit.yaml", tiny_suite())
    out = tmp_path / "kit"
    assert cli(capsys, "suite", suite, "--out", out, "-q", "--no-report")[0] == 0
    shutil.rmtree(out / "mlp")  # as the refusal of optim.lr's change to the mlp says
    sets = ["suite", suite, "--out", out, "--set", "optim.lr=0.01"]
    code, text = cli(capsys, *sets, "--dry-run")
    assert code == 0, text
    assert "majority: already complete, skipped" in text and "mlp: start" in text, text
    code, text = cli(capsys, *sets, "-q", "--no-report")
    assert code == 0, text
    assert yaml.safe_load((out / "mlp" / "config.yaml").read_text())["optim"]["lr"] == 0.01


def test_a_run_starting_from_a_sibling_listed_after_it_trains_after_that_sibling(tmp_path, capsys):
    out = tmp_path / "tl"
    tree = {
        "base": tiny_base(),
        "runs": {"from-head": {"train.init_from": str(out / "head")}, "head": {"optim.lr": 0.01}},
    }
    suite = _write(tmp_path / "tl.yaml", tree)
    code, text = cli(capsys, "suite", suite, "--out", out, "--dry-run")
    assert code == 0, text
    assert text.index("head: start") < text.index("from-head: start"), text
    done = vislab.run_suite(suite, out=out, quiet=True)
    assert {name: run.summary["status"] for name, run in done.runs.items()} == {
        "from-head": "complete",
        "head": "complete",
    }
    assert list(done.runs) == ["from-head", "head"]  # the tables keep the file's order


def test_a_diverged_run_is_trained_anew_once_its_setting_changed(tmp_path, capsys):
    tree = {
        "base": tiny_base(),
        "runs": {"hot": {"optim.lr": 1e30}, "majority": {"model.name": "majority"}},
    }
    suite, out = _write(tmp_path / "a5.yaml", tree), tmp_path / "a5"
    with pytest.raises(SuiteFailed):
        vislab.run_suite(suite, out=out, quiet=True)
    with pytest.raises(SuiteFailed) as e:  # the same settings: it would diverge again
        vislab.run_suite(suite, out=out, quiet=True)
    assert "the run diverged earlier" in str(e.value), str(e.value)
    tree["runs"]["hot"] = {"optim.lr": 0.05}
    _write(suite, tree)
    code, text = cli(capsys, "suite", suite, "--out", out, "--dry-run")
    assert code == 0, text
    said = one_line(text)
    assert "hot: start (the run there diverged with other settings (optim.lr: 1e+30 → 0.05)" in said
    done = vislab.run_suite(suite, out=out, quiet=True)
    assert done.runs["hot"].summary["status"] == "complete"
    assert yaml.safe_load((out / "hot" / "config.yaml").read_text())["optim"]["lr"] == 0.05


@pytest.mark.parametrize(
    ("beat", "lapse", "wrong"),
    [
        (-5, 30, "--heartbeat -5 (Python: heartbeat=-5) must be more than 0 seconds"),
        (0, None, "--heartbeat 0 (Python: heartbeat=0) must be more than 0 seconds"),
        (None, -30, "--heartbeat-lapse -30 (Python: heartbeat_lapse=-30) must be more than 0"),
    ],
)
def test_a_heartbeat_timing_of_zero_or_less_is_named_itself(beat, lapse, wrong):
    with pytest.raises(UserError) as e:
        SharedStorage.timed("postgresql://u:p@localhost:5999/db", beat, lapse)
    said = one_line(str(e.value))
    assert said.startswith(wrong), said
    assert "must be longer than" not in said, said


def _diverged_after_training(tmp_path):
    """A suite whose run ``hot`` trained 2 epochs (its last.pt kept), then recorded diverged, as a run
    that diverged in its second epoch is; (the suite file, its tree, --out)."""
    import json

    tree = {"base": tiny_base(train__epochs=2), "runs": {"hot": {"optim.lr": 0.5}}}
    suite, out = _write(tmp_path / "d.yaml", tree), tmp_path / "d"
    vislab.run_suite(suite, out=out, quiet=True)
    summary = json.loads((out / "hot" / "summary.json").read_text())
    (out / "hot" / "summary.json").write_text(json.dumps({**summary, "status": "diverged"}))
    assert (out / "hot" / "checkpoints" / "last.pt").is_file()
    return suite, tree, out


def test_a_diverged_run_with_checkpoints_is_moved_aside_and_trained_anew(tmp_path):
    suite, tree, out = _diverged_after_training(tmp_path)
    tree["runs"]["hot"] = {"optim.lr": 0.05}
    lines: list[str] = []
    done = vislab.run_suite(_write(suite, tree), out=out, quiet=True, log=lines.append)
    assert done.runs["hot"].summary["status"] == "complete"
    assert yaml.safe_load((out / "hot" / "config.yaml").read_text())["optim"]["lr"] == 0.05
    assert (out / "hot.diverged" / "summary.json").is_file()  # moved aside, not deleted
    assert any("the diverged run moved to" in line for line in lines), lines


def test_a_diverged_run_whose_checkpoint_the_new_one_starts_from_stays(tmp_path):
    suite, tree, out = _diverged_after_training(tmp_path)
    last = out / "hot" / "checkpoints" / "last.pt"
    tree["runs"]["hot"] = {"optim.lr": 0.05, "train.init_from": str(last)}
    with pytest.raises(SuiteFailed) as e:
        vislab.run_suite(_write(suite, tree), out=out, quiet=True)
    assert "is inside that folder: copy the checkpoint elsewhere" in one_line(str(e.value))
    assert last.is_file()


def test_with_jobs_a_run_waits_for_the_sibling_it_starts_from(tmp_path):
    """--jobs 2: the run starting from a sibling's folder is not handed out while that sibling trains
    (it would load a checkpoint of an unfinished run, or none)."""
    import warnings

    out = tmp_path / "j"
    tree = {
        "base": tiny_base(),
        "runs": {"head": {"train.epochs": 40}, "from-head": {"train.init_from": str(out / "head")}},
    }
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        done = vislab.run_suite(_write(tmp_path / "j.yaml", tree), out=out, quiet=True, jobs=2)
    assert {n: r.summary["status"] for n, r in done.runs.items()} == {
        "head": "complete",
        "from-head": "complete",
    }
    assert not [w for w in said if "still training" in str(w.message)], [
        str(w.message) for w in said
    ]
