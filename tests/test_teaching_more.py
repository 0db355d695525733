"""A teacher's checks: mlp-scratch's hand-written levels in the layer table; a report's ``data:`` words
kept as written."""

import pytest

import vislab
from conftest import cli
from vislab.experiments.results.reported import legend, reported_notes


# ----------------------------------------------------------------- 1. mlp-scratch's layer table per level
def _layers(impl: str, hidden: list[int]) -> tuple[list[tuple], int]:
    """(name, type, output shape, params, MACs) of each of mlp-scratch's layers at ``impl``, and the total
    MACs (a container row such as the module level's ``net`` Sequential is no layer)."""
    info = vislab.model_info("mlp-scratch", (1, 28, 28), impl=impl, hidden=hidden)
    rows = [
        (r.name, r.type, r.output_shape, r.params, r.macs)
        for r in info.rows
        if r.type != "Sequential"
    ]
    return rows, info.macs


@pytest.mark.parametrize("hidden", [[10], [8, 6]])
def test_hand_written_levels_show_the_same_layer_table_as_the_module_level(hidden):
    module, module_macs = _layers("module", hidden)
    sizes = [*hidden, 10]
    assert [shape for _, _, shape, _, _ in module] == [str(s) for s in sizes for _ in (0, 1)][:-1]
    assert module[0][1:] == ("Linear", str(hidden[0]), 785 * hidden[0], 784 * hidden[0])
    for impl in ("manual", "autograd"):
        rows, macs = _layers(impl, hidden)
        assert rows == module and macs == module_macs, (
            impl
        )  # no '-' shapes, no MACs on a (model) row


def test_cli_layer_table_of_the_default_manual_level(capsys):
    code, out = cli(capsys, "model", "info", "mlp-scratch", "--input", "1x28x28")
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    assert code == 0 and "(model)" not in lines, out
    assert [c.strip() for c in lines["net.0"].split("│")[2:6]] == ["Linear", "10", "7,850", "7,840"]
    assert [c.strip() for c in lines["net.2"].split("│")[2:6]] == ["Linear", "10", "110", "100"]


def test_gradcheck_still_passes_on_the_hand_written_pass():
    assert vislab.gradcheck("mlp-scratch", hidden=[5, 4]).passed


# ------------------------------------------------------------------- 4. a report's data, as written
REPORTED = {
    "sources": {
        "course-A": {"title": "Course X, report A", "data": "digits, 20 epochs, default split"}
    },
    "runs": {
        "mlp": {
            "course-A": {"where": "Table 1", "data": "iNaturalist crops", "note": "more stable"}
        }
    },
}


def test_reported_data_is_printed_as_the_teacher_wrote_it():
    notes = reported_notes(REPORTED, {"mlp": {}})
    assert "Measured on: digits, 20 epochs, default split." in notes, notes
    assert "mlp: Table 1. iNaturalist crops. More stable." in notes, (
        notes
    )  # a note starts its sentence
    (src,) = legend(REPORTED, ["mlp"])  # what report.html shows after "Measured on:"
    assert src["data"] == "digits, 20 epochs, default split"
