"""Gradcheck names the parameters as the RDFIA practical does: `mlp-scratch`'s hook gives W_h, b_h, W_y,
b_y (``HandWrittenGradients.symbols``), which ``GradCheck.table`` shows in a ``symbol`` column and
`vislab model gradcheck` beside the parameter names; ``relative_errors`` stays keyed by parameter name. A
hook's symbols that are not one string per gradient are refused naming the counts and the fix."""

import textwrap

import pytest

import vislab
from conftest import cli, one_line
from vislab.errors import UserError
from vislab.models import build_model

# a softmax regression of one's own, whose hook names its gradients by option ``symbols`` (comma-separated;
# "" gives none, "str" a string instead of a list)
SOFTMAX = textwrap.dedent(
    """
    import torch, torch.nn as nn, torch.nn.functional as F
    from vislab.models.hooks import HandWrittenGradients, ModelHooks

    class Net(ModelHooks, nn.Module):
        def __init__(self, input_shape, num_classes, symbols=""):
            super().__init__()
            self.fc, self.symbols = nn.Linear(input_shape[0], num_classes), symbols

        def forward(self, x):
            return self.fc(x)

        def hand_written_gradients(self, x, y):
            with torch.no_grad():
                d = (self.fc(x).softmax(1) - F.one_hot(y, self.fc.out_features)) / len(y)
            names = "W b" if self.symbols == "str" else self.symbols.split(",") if self.symbols else None
            return HandWrittenGradients([d.T @ x, d.sum(0)], self.fc(x), names)
    """
)


@pytest.fixture
def softmax(tmp_path, monkeypatch):
    (tmp_path / "softmax.py").write_text(SOFTMAX)
    monkeypatch.chdir(tmp_path)
    return "softmax.py:Net"


def rows(text: str) -> list[list[str]]:
    """The cells of each row of a printed rich table (lines with │ between cells)."""
    return [
        [c.strip() for c in line.strip("│ ").split("│")]
        for line in text.splitlines()
        if "│" in line
    ]


def test_mlp_scratch_names_its_parameters_by_the_practicals_symbols(capsys):
    code, text = cli(capsys, "model", "gradcheck", "mlp-scratch")
    assert code == 0, text
    assert [row[:2] for row in rows(text)] == [
        ["net.0.weight", "W_h"],
        ["net.0.bias", "b_h"],
        ["net.2.weight", "W_y"],
        ["net.2.bias", "b_y"],
    ]
    header = next(line for line in text.splitlines() if "parameter" in line)
    assert "symbol" in header and "OK" in text


def test_the_symbols_are_a_column_of_the_table_and_the_errors_keep_their_keys():
    check = vislab.gradcheck(hidden=[5], input_shape=(3,), num_classes=4)
    assert list(check.table.columns) == ["parameter", "symbol", "relative_error"]
    assert list(check.table.symbol) == ["W_h", "b_h", "W_y", "b_y"]
    assert list(check.relative_errors) == [
        "net.0.weight",
        "net.0.bias",
        "net.2.weight",
        "net.2.bias",
    ]
    # each symbol on the gradient it names: W_h is hidden × n_x (5 × 3), W_y n_y × hidden (4 × 5)
    model = build_model("mlp-scratch", (3,), 4, hidden=[5])
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    by_symbol = {check.symbols[name]: shape for name, shape in shapes.items()}
    assert by_symbol == {"W_h": (5, 3), "b_h": (5,), "W_y": (4, 5), "b_y": (4,)}
    assert "<th>symbol</th>" in check._repr_html_()


def test_more_hidden_layers_are_numbered():
    check = vislab.gradcheck(hidden=[4, 3])
    assert list(check.symbols.values()) == ["W_h1", "b_h1", "W_h2", "b_h2", "W_y", "b_y"]


def test_a_gradient_that_holds_nan_is_named_by_its_symbol_too(monkeypatch):
    from vislab.models import scratch

    real = scratch.ScratchMLP.backward_manual

    def nan_bias(self, *args):
        grads = real(self, *args)
        grads[1] = grads[1] * float("nan")
        return grads

    monkeypatch.setattr(scratch.ScratchMLP, "backward_manual", nan_bias)
    check = vislab.gradcheck()
    assert not check.passed
    assert check.verdict() == "hand-written gradient of net.0.bias (b_h) holds NaN: FAILED"


def test_a_hook_without_symbols_prints_no_symbol_column(softmax, capsys):
    check = vislab.gradcheck(softmax, input_shape=(3,), num_classes=4)
    assert check.passed and check.symbols is None
    assert list(check.table.columns) == ["parameter", "relative_error"]
    code, text = cli(capsys, "model", "gradcheck", softmax, "--input", "3", "--classes", "4")
    assert code == 0 and "symbol" not in text
    assert [row[0] for row in rows(text)] == ["fc.weight", "fc.bias"]


def test_a_users_hook_names_its_own_symbols(softmax, capsys):
    code, text = cli(capsys, "model", "gradcheck", softmax, "-i", "3", "--set", "symbols=W,b")
    assert code == 0, text
    assert [row[:2] for row in rows(text)] == [["fc.weight", "W"], ["fc.bias", "b"]]


def test_symbols_of_the_wrong_count_are_refused_naming_the_counts_and_the_fix(softmax, capsys):
    with pytest.raises(UserError) as refused:
        vislab.gradcheck(softmax, input_shape=(3,), symbols="W,b,V")
    said = str(refused.value)
    assert "gives 3 symbols (W, b, V) for its 2 gradients (fc.weight, fc.bias)" in said
    assert "give one per gradient, in parameters() order, or leave symbols out" in said
    code, text = cli(capsys, "model", "gradcheck", softmax, "-i", "3", "--set", "symbols=W")
    assert code == 2
    assert "gives 1 symbols (W) for its 2 gradients" in one_line(text)


def test_symbols_that_are_not_a_list_of_strings_are_refused(softmax):
    with pytest.raises(UserError, match="gives symbols as a str, not a list of strings") as refused:
        vislab.gradcheck(softmax, input_shape=(3,), symbols="str")
    assert "symbols=['W_h', 'b_h', 'W_y', 'b_y']" in str(refused.value)
