"""A suite file fixes its seeds (``seeds: N``, as --seeds N, which overrides it; a list in train.seed says
so); a misspelt model.name is said as such, not as an option of the default model; inside a suite an
interrupted run's advice is the suite's re-run, not a `vislab train` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

import vislab.experiments.suites.jobs as jobs
from conftest import cli, one_line, tiny_base, tiny_suite
from vislab.errors import TrainingInterrupted


def _suite(tmp_path, **changes):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny_suite(runs={"mlp": {}}, **changes)))
    return path


def test_a_suite_files_seeds_train_each_run_that_many_times(capsys, tmp_path):
    path, out = _suite(tmp_path, seeds=2, base__data__limit=120), tmp_path / "o"
    code, text = cli(capsys, "suite", path, "--out", out, "--dry-run")
    assert code == 0, text
    assert "1 runs × 2 seeds" in text and "mlp-s1: start" in text
    code, text = cli(capsys, "suite", path, "--out", out, "--no-report", "-q")
    assert code == 0, text
    info = json.loads((out / "suite.json").read_text())
    assert info["seeds"] == 2 and info["rows"] == {"mlp": ["mlp-s0", "mlp-s1"]}
    code, text = cli(capsys, "suite", path, "--out", out, "--seeds", "3", "--dry-run")
    assert code == 0 and "mlp-s2: start" in text, text  # --seeds overrides the file's


def test_fewer_seeds_in_the_file_than_the_folder_names_the_file(capsys, tmp_path):
    path, out = _suite(tmp_path, seeds=1), tmp_path / "o"
    (out / "mlp-s0").mkdir(parents=True)
    (out / "suite.json").write_text(json.dumps({"name": "s", "seeds": 2}))
    code, text = cli(capsys, "suite", path, "--out", out, "--dry-run")
    said = one_line(text)
    assert code == 2, text
    assert f"its file's seeds: 1 ({path})" in said and "write seeds: 2 in the file" in said


def test_a_list_of_seeds_in_a_suite_points_to_seeds(capsys, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny_suite(base=tiny_base(train__seed=[0, 1, 2]))))
    code, text = cli(capsys, "suite", path, "--out", tmp_path / "o", "--dry-run")
    said = one_line(text)
    assert code == 2, text
    assert "write `seeds: 3` at the top of the suite file" in said
    assert "vislab suite --seeds 3" in said


def test_a_misspelt_model_name_is_not_blamed_on_the_default_model(capsys, tmp_path):
    args = ("train", "--set", "model.nam=mlp", "--set", "data.name=digits", "--out", tmp_path / "r")
    code, text = cli(capsys, *args)
    said = one_line(text)
    assert code == 2, text
    assert "unknown config key 'model.nam'. Did you mean 'model.name'?" in said
    assert "cnn" not in said and "widths" not in said
    code, text = cli(capsys, "train", "--set", "model.name=mlp", *args[1:])
    assert code == 2 and "model 'mlp' has no option 'model.nam'" in one_line(text), text


# as training/stopping.py words a run stopped before its fit was saved, and one stopped mid-epoch
_UNFITTED = (  # what happened, how to go on (as training/stopping.py raises it)
    "training stopped by SIGINT before majority's fit on the train split was saved (it is saved once "
    "scored): nothing was kept.",
    " Start the run again: its command without --resume (Python: "
    "vislab.train(..., out='o/majority') without resume).",
)
_MID_EPOCH = (
    "training stopped by SIGINT at epoch 1, step 3; state saved in o/mlp/checkpoints/last.pt.",
    " Resume with: vislab train --resume o/mlp (Python: vislab.train(out='o/mlp', resume=True))",
)


def test_an_interrupted_run_of_a_suite_is_told_the_suites_re_run(capsys, monkeypatch, tmp_path):
    for (happened, then), does in ((_UNFITTED, "starts it again"), (_MID_EPOCH, "resumes it")):

        def stopped(cfg, out, resume=False, happened=happened, then=then, does=does, **kw):
            raise TrainingInterrupted(happened, then=then, rerun=does)

        monkeypatch.setattr(jobs, "train", stopped)
        out = tmp_path / does.replace(" ", "-")
        code, text = cli(capsys, "suite", _suite(tmp_path), "--out", out, "--no-report", "-q")
        said = one_line(text)
        assert code == 130, text
        assert f"re-running the suite {does}." in said
        assert "vislab train" not in said and "resume=True" not in said
        assert "Re-run the same `vislab suite` command" in said


def test_the_suite_file_pages_example_is_a_valid_suite(capsys, tmp_path):
    page = Path(__file__).parents[1] / "docs" / "suite-files.md"
    example = re.search(r"```yaml\n(.*?)```", page.read_text(), re.S).group(1)
    (tmp_path / "assignment.yaml").write_text(example)
    code, text = cli(capsys, "suite", tmp_path / "assignment.yaml", "--dry-run")
    assert code == 0, text
    assert "3 runs × 3 seeds" in text and "cnn-s2: start — model cnn, model.widths=[8, 16]" in text
