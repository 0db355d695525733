"""Session 23, `sweep show` of a shared study whose run folders are elsewhere (another machine, or moved):
results.md's table holds its trials, their rows from the study database (session 25), and the best one is
trained again from the study's base config with its values, not from a path of another machine."""

import re
import shutil

import yaml

import vislab
from conftest import cli, tiny_sweep
from figures_skipped import skip_report_figures
from vislab.experiments.sweeps.trials import NOT_HERE


def test_a_shared_study_whose_folders_are_gone_is_shown_from_its_database(
    tmp_path, capsys, monkeypatch
):
    """Two workers share a SQLite study from two folders; both folders are gone: `sweep show --storage
    --study` lists each trial (state, objective, value, where it ran) as from the study database, and its
    command trains the best trial again to the same config."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    vislab.sweep(tiny_sweep(), out=tmp_path / "pw1", trials=1, storage=storage, quiet=True)
    vislab.sweep(tiny_sweep(), out=tmp_path / "pw2", trials=2, storage=storage, quiet=True)
    configs = {
        n: yaml.safe_load((tmp_path / w / "trials" / str(n) / "config.yaml").read_text())
        for n, w in ((0, "pw1"), (1, "pw2"))
    }
    shutil.rmtree(tmp_path / "pw1")
    shutil.rmtree(tmp_path / "pw2")
    skip_report_figures(monkeypatch)  # its report's tables and notes alone: no figure is read here
    monkeypatch.chdir(tmp_path)
    code, text = cli(capsys, "sweep", "show", "--storage", storage, "--study", "tiny")
    said = " ".join(text.split())
    assert code == 0 and "pw1/trials" not in said and "pw2/trials" not in said, said
    md = (tmp_path / "runs" / "sweep-tiny" / "results.md").read_text()
    assert "Trials: 2 complete trials in this table" in md, md
    assert "| run | model | seed | optim.lr | run folder | train ACC |" in md, md
    for n, w in ((0, "pw1"), (1, "pw2")):
        assert re.search(
            rf"\| trial-{n} \| mlp \| 0 \| [\d.]+ \| {NOT_HERE} \| .*0\.\d{{4}}", md
        ), md
        assert re.search(rf"trial-{n} \(.+: {tmp_path / w}/trials/{n}\)", md), md
    # the command, in the terminal and in results.md: the study's base config with the best trial's values
    found = re.search(
        r"best trial: (\d+) .*?vislab train --config (\S+) --set (\S+) --out NEW", said
    )
    assert found and found.group(2) == "runs/sweep-tiny/base.yaml", said
    assert found.group(0) in " ".join(md.split()), md
    number, config, value = int(found.group(1)), found.group(2), found.group(3)
    assert cli(capsys, "train", "--config", config, "--set", value, "--out", "again")[0] == 0
    assert yaml.safe_load((tmp_path / "again" / "config.yaml").read_text()) == configs[number]


def test_a_sweep_whose_folders_are_here_has_no_database_section(tmp_path):
    """Every trial's run folder here: results.md has no rows from the study database, and no base.yaml."""
    vislab.sweep(tiny_sweep(), out=tmp_path / "sw", trials=1, quiet=True)
    md = (tmp_path / "sw" / "results.md").read_text()
    assert NOT_HERE not in md and "from the study database" not in md, md
    assert not (tmp_path / "sw" / "base.yaml").exists()
