"""vislab.train(resume=True) from Python says, as the command does, which of the run's files show the
weights it had before the resume trained on."""

import os
import shutil
import warnings

import vislab


def test_a_resume_from_python_says_the_report_is_older_than_the_weights(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "report.html").write_text("x")
    os.utime(run / "report.html", (1, 1))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        vislab.train(out=run, resume=True, epochs=2, quiet=True)
    notes = [str(w.message) for w in said if issubclass(w.category, vislab.Note)]
    assert any(
        n.startswith(f"{run}'s report.html shows the weights it had before this resume trained on")
        and f"vislab.write_report('{run}')" in n
        for n in notes
    ), notes
    with warnings.catch_warnings(record=True) as said:  # trains nothing: says nothing of it
        warnings.simplefilter("always")
        vislab.train(out=run, resume=True, quiet=True)
    assert not [w for w in said if "before this resume" in str(w.message)]
