"""Folders an older vislab made, used after an upgrade: a default recorded in their config.yaml (or a
sweep's study) that changed since (config/former_defaults.py) neither splits seeds, nor refuses a sweep or
a suite without naming the --set that keeps it, nor makes a note the user never asked for."""

import json
from pathlib import Path

import optuna
import pytest
import yaml

from conftest import cli, one_line, table_run, tiny_base, tiny_suite, tiny_sweep
from vislab.config import Config, build_config, config_notes
from vislab.config.former_defaults import FORMER_DEFAULTS
from vislab.config.reads import get_dotted
from vislab.errors import UserError
from vislab.experiments.sweeps import attrs
from vislab.experiments.sweeps.joining import check_same_base

DOCS = Path(__file__).parents[1] / "docs" / "upgrading.md"


def _seeds(folder: Path, *gammas: str, schedule: str = "none") -> None:
    """Runs mlp-s0, mlp-s1, … as the tables read them, each seed with its schedule.gamma of ``gammas``."""
    for i, gamma in enumerate(gammas):
        sets = [f"schedule.gamma={gamma}", f"train.seed={i}", f"schedule.name={schedule}"]
        run = table_run(folder, f"mlp-s{i}", *sets, "schedule.step_size=1")
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "seed": i}))


def test_seeds_of_an_older_vislab_and_a_newer_one_are_one_row_where_gamma_does_nothing(
    tmp_path, capsys
):
    """An old suite continued with more seeds: gamma 0.95 (the old default) beside null, under
    schedule.name=none, split the row ('Not averaged as seeds … differ in schedule.gamma')."""
    _seeds(tmp_path, "0.95", "0.95", "null")
    code, out = cli(capsys, "compare", tmp_path)
    assert code == 0, out
    assert "Not averaged as seeds" not in out and "| mlp | 3 |" in out, out


def test_seeds_whose_gamma_a_step_schedule_reads_are_still_told_apart(tmp_path, capsys):
    _seeds(tmp_path, "0.95", "null", schedule="step")
    code, out = cli(capsys, "compare", tmp_path)
    said = one_line(out)
    assert code == 0 and "Not averaged as seeds" in said, out
    assert "differ in schedule.gamma (mlp-s0 0.95, mlp-s1 None)" in said


def test_an_older_runs_gamma_note_says_it_was_vislabs_default():
    """Every use of an old config.yaml noted 'schedule.gamma=0.95 does nothing with schedule.name=none'
    (saved in notes_given) as if the user had set it: 0.95 was vislab's default, and the note says so (a
    0.95 typed today is noted too: the value alone cannot tell them apart)."""
    old = build_config(tiny_base(schedule__gamma=0.95))
    [note] = [n for n in config_notes(old) if "schedule.gamma" in n]
    assert note.startswith("schedule.gamma=0.95 does nothing with schedule.name=none")
    assert note.endswith(
        "(schedule.gamma=0.95 was vislab's default before 0.2.0: an older run's config.yaml records it)"
    )
    given = build_config(tiny_base(schedule__gamma=0.5))
    assert any(n.startswith("schedule.gamma=0.5 does nothing") for n in config_notes(given))


def _study(stored: dict, space: dict | None = None) -> optuna.Study:
    """An in-memory study started with the base ``stored`` (an older vislab's), over ``space``."""
    study = optuna.create_study(direction="maximize")
    study.set_user_attr(attrs.BASE, json.loads(json.dumps(build_config(stored).to_dict())))
    study.set_user_attr(attrs.SPACE, space or {"optim.lr": {"type": "float"}})
    return study


def test_a_sweep_base_differing_only_in_an_idle_setting_joins():
    old = tiny_base(schedule__gamma=0.95, train__select_metric="val_acc")
    check_same_base(_study(old), tiny_base(train__select_metric="val_acc"))  # no UserError


def test_a_swept_schedule_keeps_gamma_a_difference():
    """Where the space draws schedule.name, gamma does nothing under the base alone, not for a trial."""
    old = tiny_base(schedule__gamma=0.95, train__select_metric="val_acc")
    study = _study(old, {"schedule.name": {"type": "categorical", "choices": ["none", "step"]}})
    with pytest.raises(UserError, match="older vislab whose default schedule.gamma was 0.95"):
        check_same_base(study, tiny_base(train__select_metric="val_acc"))


def test_a_real_difference_beside_a_former_default_keeps_the_join_advice():
    step = dict(schedule__name="step", schedule__step_size=1, train__epochs=2)
    old = tiny_base(**step, schedule__gamma=0.95, train__select_metric="val_acc")
    new = tiny_base(**step, optim__lr=0.01, train__select_metric="val_acc")
    with pytest.raises(UserError) as e:
        check_same_base(_study(old), new)
    said = str(e.value)
    assert "add --set schedule.gamma=0.95 (Python: schedule__gamma=0.95) to keep that" in said
    assert "optim.lr: 0.001 → 0.01" in said and "Join it with the same sweep file" in said


def test_an_older_sweep_goes_on_with_the_set_its_refusal_names(tmp_path, capsys):
    """An older vislab's study: gamma 0.95 and each trial's epoch chosen by val_pacc (its defaults). Going on
    with the same file named gamma too and told to join with the same sweep file, which the user did."""
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tiny_sweep(metric="val_acc")))
    into = ("--out", tmp_path / "s", "--no-report")
    code, out = cli(capsys, "sweep", tmp_path / "s.yaml", "--trials", "1", *into)
    assert code == 0, out
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 's' / 'study.db'}")
    old = study.user_attrs[attrs.BASE]
    old["schedule"]["gamma"], old["train"]["select_metric"] = 0.95, "val_pacc"
    study.set_user_attr(attrs.BASE, old)
    code, out = cli(capsys, "sweep", tmp_path / "s.yaml", "--trials", "2", *into)
    said = one_line(out)
    assert code == 2 and "schedule.gamma" not in said, out
    assert (
        "made by an older vislab whose default train.select_metric was 'val_pacc': add --set "
        "train.select_metric=val_pacc (Python: train__select_metric='val_pacc') to go on with it"
    ) in said
    keep = ("--set", "train.select_metric=val_pacc")
    code, out = cli(capsys, "sweep", tmp_path / "s.yaml", "--trials", "2", *into, *keep)
    assert code == 0, out


def test_an_older_suite_with_a_step_schedule_names_the_set_that_keeps_its_gamma(tmp_path, capsys):
    """Its runs' config.yaml hold gamma 0.95, which their step schedule reads: refused with 'Re-run it
    with the suite file and options it was run with', which the user had done."""
    base = tiny_base(train__epochs=2, schedule__name="step", schedule__step_size=1)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tiny_suite(base=base, runs={"mlp": {}})))
    into = ("--out", tmp_path / "o", "--no-report")
    code, out = cli(capsys, "suite", tmp_path / "s.yaml", *into)
    assert code == 0, out
    stored = tmp_path / "o" / "mlp" / "config.yaml"
    tree = yaml.safe_load(stored.read_text())
    tree["schedule"]["gamma"] = 0.95  # as an older vislab wrote it
    stored.write_text(yaml.safe_dump(tree))
    code, out = cli(capsys, "suite", tmp_path / "s.yaml", *into)
    said = one_line(out)
    assert code == 2 and "mlp: schedule.gamma: 0.95 → None" in said, out
    assert (
        "They were made by an older vislab whose default schedule.gamma was 0.95: add --set "
        "schedule.gamma=0.95 (Python: schedule__gamma=0.95) to go on with them"
    ) in said
    assert "options it was run with" not in said
    code, out = cli(capsys, "suite", tmp_path / "s.yaml", *into, "--set", "schedule.gamma=0.95")
    assert code == 0 and "mlp: already complete" in out, out


@pytest.mark.parametrize("former", FORMER_DEFAULTS, ids=lambda d: d.key)
def test_each_former_default_is_a_setting_whose_default_changed_and_docs_say_it(former):
    """The list is read by code and by people (docs/upgrading.md): each entry a config key, whose former
    value is no longer its default (a sweep's own: the runs' default stays), named in the docs."""
    today = get_dotted(Config(), former.key)
    assert former.sweep == (today in former.was), (former.key, today)
    text = DOCS.read_text()
    assert f"`{former.key}`" in text and all(str(v) in text for v in former.was)
