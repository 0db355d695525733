"""Tests for model-inspection and model-code behaviours a mutation could break unseen (gradcheck, layer
table, receptive field, weight loading, trusted code)."""

import hashlib
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import vislab
from vislab.errors import UntrustedCode
from vislab.models import build_model, trust
from vislab.models.gradcheck import GradCheck
from vislab.models.layer_table import layer_table
from vislab.models.receptive_field import Field
from vislab.models.trust import recorded_code
from vislab.models.weights import load_fitting

NET = """
import torch.nn as nn

WHERE = {where!r}


class Net(nn.Module):
    def __init__(self, num_classes, input_shape=None):
        super().__init__()
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def test_gradcheck_fails_on_a_backward_with_the_sign_flipped(monkeypatch) -> None:
    """-g has g's norm: the error is ‖-g - g‖ / ‖g‖ = 2, not the difference of the norms (0)."""
    from vislab.models import scratch

    orig = scratch.ScratchMLP.backward_manual
    monkeypatch.setattr(
        scratch.ScratchMLP, "backward_manual", lambda self, *a: [-g for g in orig(self, *a)]
    )
    check = vislab.gradcheck()
    assert not check.passed and check.verdict().endswith("FAILED")
    assert check.max_error == pytest.approx(2.0)


def test_gradcheck_passes_up_to_its_tolerance_and_no_further() -> None:
    at = GradCheck("m", {"w": 1e-6, "b": 0.0}, tol=1e-6)
    assert at.passed and at.verdict().endswith("OK")
    twice = GradCheck("m", {"w": 2e-6, "b": 0.0}, tol=1e-6)
    assert not twice.passed and twice.verdict().endswith("FAILED")
    assert "FAILED" in twice._repr_html_()


class _Tied(nn.Module):
    """Two Linear layers sharing one weight matrix (their biases their own)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


def test_a_tied_weight_counts_in_one_row_only() -> None:
    table = layer_table(_Tied(), (4,))
    rows = {r.name: r.params for r in table.rows}
    assert rows == {"a": 20, "b": 4}  # b's row: its bias; the shared 4×4 matrix is a's
    assert sum(rows.values()) == table.totals["params"] == 24


def test_a_linear_layers_matrix_counts_as_weights() -> None:
    table = layer_table(nn.Linear(4, 3), (4,))
    assert table.totals["weights"] == 12 and table.totals["params"] == 15


def test_a_frozen_layers_row_has_nothing_trainable() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3))
    model[0].requires_grad_(False)
    rows = {r.name: (r.params, r.trainable) for r in layer_table(model, (1, 8, 8)).rows}
    assert rows == {"0": (20, 0), "1": (38, 38)}


class _PoolThenConv(nn.Module):
    """A functional 2×2 max pool (stride left to torch's default: the kernel), then a 3×3 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.max_pool2d(x, 2))


def test_a_functional_pool_without_stride_strides_by_its_kernel() -> None:
    # pool: r = 1 + (2-1)·1 = 2, j = 1·2 = 2; conv: r = 2 + (3-1)·2 = 6, j = 2·1 = 2
    rows = {r.name: r for r in layer_table(_PoolThenConv(), (1, 8, 8)).rows}
    assert rows["conv"].field == Field((6, 6), (2, 2))


@pytest.mark.parametrize(
    ("n", "field"),
    [
        # torch's windows [⌊i·n/3⌋, ⌈(i+1)·n/3⌉): 7 → [0, 3), [2, 5), [4, 7): 3 pixels, 2 apart
        (7, Field((3, 3), (2, 2))),
        # 5 → [0, 2), [1, 4), [3, 5): the middle unit sees 3 pixels; starts at most 2 apart
        (5, Field((3, 3), (2, 2))),
        # 8 → [0, 3), [2, 6), [5, 8): the middle unit sees 4 pixels; starts at most 3 apart
        (8, Field((4, 4), (3, 3))),
    ],
)
def test_an_adaptive_pool_that_does_not_divide_its_input(n: int, field: Field) -> None:
    rows = {r.name: r for r in layer_table(nn.Sequential(nn.AdaptiveAvgPool2d(3)), (1, n, n)).rows}
    assert rows["0"].field == field


def test_an_rgb_stem_of_another_width_is_reinitialised() -> None:
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Conv2d(8, 4, 1))
    sd = {"0.weight": torch.randn(16, 3, 3, 3), "0.bias": torch.randn(16)}
    sd |= {k: torch.ones_like(v) for k, v in model.state_dict().items() if k.startswith("1.")}
    assert load_fitting(model, sd, "w") == ["0.weight", "0.bias"]
    assert torch.equal(model[1].weight, torch.ones(4, 8, 1, 1))


def _two_copies(tmp_path, monkeypatch) -> tuple[dict, str]:
    """net.py in the current directory and another at the run's recorded path, neither as trained."""
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    (here / "net.py").write_text(NET.format(where="here"))
    (there / "net.py").write_text(NET.format(where="there"))
    monkeypatch.chdir(here)
    trained = hashlib.sha256(NET.format(where="trained").encode()).hexdigest()
    return {"path": str(there / "net.py"), "sha256": trained}, trained


def test_trusted_code_is_imported_from_the_current_directory_first(tmp_path, monkeypatch) -> None:
    record, _ = _two_copies(tmp_path, monkeypatch)
    with recorded_code("net.py:Net", record, True, "run") as name:
        assert name == "net.py:Net"
        model = build_model(name, (1, 2, 2), 3)
    assert type(model).__module__.startswith("vislab_user_net_")
    assert sys.modules[type(model).__module__].WHERE == "here"


def test_code_that_changes_after_its_check_is_not_imported(tmp_path, monkeypatch) -> None:
    record, trained = _two_copies(tmp_path, monkeypatch)
    monkeypatch.setattr(trust, "_sha256", lambda path: trained)  # the check sees the trained bytes
    refused = pytest.raises(UntrustedCode, match="changed while vislab was checking it")
    with recorded_code("net.py:Net", record, False, "run") as name, refused:
        build_model(name, (1, 2, 2), 3)
