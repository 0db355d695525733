"""A sweep's study attributes and a run's stored config, read one way: a study whose interrupted trials
an earlier vislab recorded still counts them interrupted, and a config.yaml section that is no mapping
(a hand-edited file) reads as no setting rather than a crash."""

import optuna
from optuna.trial import TrialState, create_trial

from vislab.experiments.results.provenance import select_metrics
from vislab.experiments.sweeps.trials import best_table, state_counts, trials_csv

# the error texts earlier vislab versions wrote for a trial stopped by a signal or a failing database
SIGNALLED = "interrupted; its parameters were queued again"
DATABASE = (
    "interrupted: the study database failed during the trial; its parameters were queued again"
)


def _study() -> optuna.Study:
    study = optuna.create_study(study_name="old", direction="maximize")
    study.set_user_attr("metric", "val_acc")
    add = lambda state, value=None, **attrs: study.add_trial(  # noqa: E731
        create_trial(state=state, value=value, params={"x": 1.0}, user_attrs=attrs,
                     distributions={"x": optuna.distributions.FloatDistribution(0, 2)})
    )  # fmt: skip
    add(TrialState.COMPLETE, 0.5, run_dir="/runs/0")
    add(TrialState.FAIL, error=SIGNALLED)
    add(TrialState.FAIL, error=DATABASE)
    add(TrialState.FAIL, error="ValueError: boom")
    add(TrialState.FAIL, surplus=True)
    return study


def test_a_study_of_an_earlier_vislab_counts_its_interrupted_trials_as_before():
    study = _study()
    assert state_counts(study) == {"complete": 1, "interrupted": 2, "failed": 1}
    lines = trials_csv(study).splitlines()
    assert lines[0] == "number,state,val_acc,x,duration_s,same_as,error"
    assert [line.split(",")[1] for line in lines[1:]] == [
        "complete",
        "interrupted",
        "interrupted",
        "failed",
    ]
    assert lines[2].endswith(SIGNALLED) and lines[4].endswith("ValueError: boom")
    title = best_table(study).title
    assert title.startswith(
        "study old: best 1 by val_acc (maximize); 1 complete, 1 failed, 2 interrupted"
    )


def test_a_config_yaml_whose_train_section_is_no_mapping_records_no_select_metric(tmp_path):
    odd, plain = tmp_path / "odd", tmp_path / "plain"
    for folder, text in ((odd, "train: fast\n"), (plain, "train:\n  select_metric: val_loss\n")):
        folder.mkdir()
        (folder / "config.yaml").write_text(text)
    assert select_metrics({"odd": odd, "plain": plain, "gone": tmp_path / "gone"}) == {
        "plain": "val_loss"
    }
