"""Run.evaluate on other data: the Python counterpart of `vislab eval RUN --set data.root=...`."""

from __future__ import annotations

import pytest

import vislab
from conftest import cli, one_line
from fixtures import write_mnist


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    """A tiny MLP trained on one MNIST-format folder, and another folder of other images."""
    root = tmp_path_factory.mktemp("other-data")
    write_mnist(root / "a", n_train=60, n_test=20, seed=0)
    write_mnist(root / "b", n_train=60, n_test=33, seed=7)
    run = vislab.train(
        model="mlp", data="mnist", data__root=str(root / "a"), data__download=False,
        out=root / "run", train__epochs=1, train__figures=False, model__hidden=[16], train__batch_size=16,
    )  # fmt: skip
    return run, root / "b"


def test_evaluate_scores_another_copy_of_the_data_as_eval_set_does(mnist_run, capsys):
    run, other = mnist_run
    own = run.evaluate()
    assert own["n"] == 20 and own["acc"] == pytest.approx(run.summary["test_acc"])
    there = run.evaluate(data__root=str(other))
    assert there["n"] == 33
    code, text = cli(capsys, "eval", run.path, "--set", f"data.root={other}", "--mistakes", "0")
    assert code == 0 and f"test: acc {there['acc']:.4f}" in text, text


def test_evaluate_refuses_a_model_option_and_an_unknown_key(mnist_run):
    run, _ = mnist_run
    with pytest.raises(vislab.UserError, match="own model, whose options cannot change"):
        run.evaluate(model__hidden=[8])
    with pytest.raises(vislab.UserError) as refused:
        run.evaluate(data__rot="x")
    assert "data.rot" in one_line(str(refused.value))
