"""The public Python API as a notebook uses it (E53): a Run, or a suite's result, stands for its folder
wherever a function takes one; every public function's arguments are checked at its boundary in one way
(a number given as a string is that number, as ``train(epochs="1")`` always took it; any other value of
the wrong type is a UserError naming the function, the argument, the value and what it takes); an
export is the (model file, JSON) pair it is documented as; paper() without out= names out=."""

import numpy as np
import pytest
import yaml

import vislab
from conftest import TINY_DIGITS, tiny_suite
from figures_skipped import skip_report_figures
from vislab import UserError


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return tuple(vislab.train(out=root / n, quiet=True, **TINY_DIGITS) for n in "ab")


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory):
    file = tmp_path_factory.mktemp("suite-file") / "tiny.yaml"
    file.write_text(yaml.safe_dump(tiny_suite(name="tiny")))
    return file


def test_a_run_is_taken_wherever_a_run_folder_is(two_runs, tmp_path):
    a, b = two_runs
    assert vislab.load_run(a).summary == a.summary
    assert vislab.write_report(a) == a.path / "report.html"
    assert vislab.paper(a, figures=False) == a.path / "paper"  # one run: its folder's paper
    both = vislab.paper([a, b], out=tmp_path / "paper", figures=False)
    assert both == tmp_path / "paper" and (both / "tables.tex").is_file()
    assert vislab.compare([a, b])["run"].tolist() == ["a", "b"]


def test_train_resumes_the_run_it_is_given(tmp_path):
    run = vislab.train(out=tmp_path / "run", quiet=True, **TINY_DIGITS)
    resumed = vislab.train(out=run, resume=True, epochs=2, quiet=True)
    assert resumed.path == run.path and resumed.history["epoch"].tolist() == [1, 2]


def test_a_suites_result_stands_for_its_folder(suite_file, tmp_path, two_runs, monkeypatch):
    skip_report_figures(monkeypatch)  # its reports: where the page goes is what is read
    res = vislab.run_suite(suite_file, out=tmp_path / "suite", quiet=True)
    table = vislab.compare(res)
    assert table["run"].tolist() == res.table["run"].tolist() == ["majority", "mlp"]
    assert vislab.write_report(res) == tmp_path / "suite" / "report.html"
    with pytest.raises(UserError, match="holds a vislab run"):  # a run's folder: no suite there
        vislab.run_suite(suite_file, out=two_runs[0], quiet=True)


def test_numbers_given_as_strings_are_those_numbers_everywhere(two_runs, suite_file, tmp_path):
    """As train(epochs="1") took them: each of these was a TypeError from inside vislab."""
    assert len(two_runs[0].predict(np.zeros((8, 8)), top_k="2")[0]) == 2
    assert vislab.gradcheck(tol="1e-6").passed
    assert len(vislab.lr_find(steps="10", **TINY_DIGITS).lrs) <= 10
    plan = vislab.run_suite(suite_file, epochs="2", out=tmp_path / "s", dry_run=True, quiet=True)
    assert plan["epochs"].tolist() == [2, 2]
    assert len(vislab.preview_data("digits", n="4", copies=1).axes) == 8  # was a UserError
    assert vislab.model_info("mlp", ("8",), 3, hidden=[4]).params == 8 * 4 + 4 + 4 * 3 + 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda r: r.predict(np.zeros((8, 8)), top_k="two"),
            "run.predict got top_k='two' (str): top_k must be a whole number.",
        ),
        (
            lambda r: vislab.gradcheck(tol="small"),
            "vislab.gradcheck got tol='small' (str): tol must be a number.",
        ),
        (
            lambda r: vislab.lr_find(steps=10.5),
            "vislab.lr_find got steps=10.5 (float): steps must be a whole number.",
        ),
        (
            lambda r: vislab.run_suite("quickstart", epochs="one", dry_run=True),
            "vislab.run_suite got epochs='one' (str): epochs must be a whole number, or None.",
        ),
        (
            lambda r: vislab.run_suite("quickstart", jobs=True, dry_run=True),
            "vislab.run_suite got jobs=True (bool): jobs must be a whole number.",
        ),
        (
            lambda r: vislab.train(out=5),
            "vislab.train got out=5 (int): out must be a string or a path, or None.",
        ),
        (
            lambda r: vislab.compare(5),
            "vislab.compare got runs=5 (int): runs must be a string or a "
            "path, a list of strings or paths, or a dict.",
        ),
        (
            lambda r: vislab.compare([r], reported=[1, 2]),
            "vislab.compare got reported=[1, 2] (list): reported must be a Reported or a dict, or None.",
        ),
        (lambda r: vislab.paper([r, 5], out="p"), "vislab.paper got targets=[Run("),
        (
            lambda r: vislab.write_report(r, titel="x"),
            "vislab.write_report(): got an unexpected "
            "keyword argument 'titel'. Its arguments: folder, title, trust_code, log.",
        ),
    ],
)
def test_a_wrong_type_is_a_user_error_naming_the_function_argument_value_and_type(
    two_runs, call, message
):
    with pytest.raises(UserError) as e:
        call(two_runs[0])
    assert str(e.value).startswith(message)


def test_an_export_is_the_pair_it_is_documented_as(two_runs, tmp_path):
    exported = two_runs[0].export("torchscript", out=tmp_path / "model.pt")
    model_file, spec = exported
    assert exported[0] == model_file == tmp_path / "model.pt" and exported[1] == spec
    assert len(exported) == 2 and exported[-1] == spec and tuple(exported[:1]) == (model_file,)


def test_paper_of_several_runs_without_out_names_the_python_argument(two_runs, tmp_path):
    with pytest.raises(UserError, match=r"give --out \(Python: out=\)"):
        vislab.paper(list(two_runs), figures=False)


def test_folders_are_taken_as_users_hold_them(two_runs, suite_file, tmp_path):
    """Any iterable of folders (a generator, Path.glob's, an array, a Series), a mapping whose names are
    numbers, overrides as one string, log=None: each worked before the arguments were checked."""
    import pandas as pd

    a, b = two_runs
    paths = [a.path, b.path]
    for runs in ((p for p in paths), np.array([str(p) for p in paths]), pd.Series(paths)):
        assert vislab.compare(runs)["run"].tolist() == ["a", "b"]
    assert vislab.compare({1: a, 2: b})["run"].tolist() == ["1", "2"]
    paper = vislab.paper((p for p in paths), out=tmp_path / "paper", figures=False, log=None)
    assert (paper / "tables.tex").is_file()
    assert vislab.write_report(a, log=None) == a.path / "report.html"
    plan = vislab.run_suite(
        suite_file, overrides="data.limit=100", out=tmp_path / "s", dry_run=True, quiet=True
    )
    assert len(plan) == 2


def test_a_numpy_number_is_a_setting_like_any_number(two_runs):
    """run.evaluate(data__limit_eval=np.int64(30)) raised yaml's RepresenterError."""
    scores = two_runs[0].evaluate("val", data__limit_eval=np.int64(30))
    assert scores == two_runs[0].evaluate("val", data__limit_eval=30) and scores["n"] == 30
