"""Run.summary is summary.json as one typed record (vislab.RunSummary): fields as attributes, a key chosen by
name as ``summary[key]``, the file's flat object as ``to_json()``."""

import json

import pytest

import vislab


def test_summary_is_the_typed_record_of_summary_json(trained):
    summary = vislab.load_run(trained).summary
    on_disk = json.loads((trained / "summary.json").read_text())
    assert isinstance(summary, vislab.RunSummary)
    assert summary.status == "complete" and summary.complete
    assert summary.test_acc == on_disk["test_acc"] and summary.n_train == on_disk["n_train"]
    assert summary.test_per_class == on_disk["test_per_class"]
    assert summary.to_json() == on_disk


def test_a_key_chosen_by_name(trained):
    summary = vislab.load_run(trained).summary
    assert summary["val_pacc"] == summary.val_pacc and summary.get("val_pacc") == summary.val_pacc
    assert (
        "test_acc" in summary and "class_weights" not in summary
    )  # the file holds no class_weights
    assert summary["class_weights"] is None and summary.get("class_weights", []) == []
    with pytest.raises(KeyError, match=r"no key 'test_accuracy'.*'test_acc'"):
        summary["test_accuracy"]


def test_a_key_added_by_hand_is_read_by_name(trained, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.yaml").write_text((trained / "config.yaml").read_text())
    on_disk = json.loads((trained / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**on_disk, "grade": "A"}))
    summary = vislab.load_run(folder).summary
    assert summary["grade"] == "A" and summary.to_json()["grade"] == "A"


def test_repr_shows_what_the_file_holds(trained):
    text = repr(vislab.load_run(trained).summary)
    assert text.startswith("RunSummary(status='complete'") and "test_acc=" in text
    assert "class_weights" not in text and "extra=" not in text


def test_a_run_before_its_summary(trained, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.yaml").write_text((trained / "config.yaml").read_text())
    summary = vislab.load_run(folder).summary
    assert summary.status is None and summary.test_acc is None and summary.to_json() == {}
    assert "test_acc" not in summary


def test_a_summary_is_no_dict_to_loop_over_and_says_what_to_use(trained, tmp_path):
    summary = vislab.load_run(trained).summary
    with pytest.raises(TypeError, match=r"summary.to_json\(\)"):
        list(summary)
    with pytest.raises(KeyError, match="keys are names"):
        summary[0]
    assert summary and dict(summary.to_json())["status"] == "complete"
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "config.yaml").write_text((trained / "config.yaml").read_text())
    assert not vislab.load_run(folder).summary  # nothing written yet, as its {} was
