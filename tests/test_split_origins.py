"""Where each sample of a split comes from: data.split's note on the official test images it pools, the
source of each wrong prediction (mistakes_<split>.csv's ``source``: the official set and index in it), and
`vislab data info`'s header on one line."""

from __future__ import annotations

import re
import shlex
import warnings

import numpy as np
import pandas as pd
import pytest

import vislab
from conftest import cli, one_line
from fixtures import write_mnist
from vislab.config import build_config
from vislab.data import load_splits
from vislab.data.sources.idx import FASHION_MNIST

SETS = ["--set", "data.download=false"]


@pytest.fixture(scope="module")
def fm(tmp_path_factory):
    """A Fashion-MNIST-format folder (IDX files, 600 train and 100 test images, every image unique) and
    its official sets: (root, {set: (images N×28×28, labels)})."""
    root = tmp_path_factory.mktemp("fashion")
    return root, write_mnist(root, n_train=600, n_test=100, seed=3, gz=False)


def _config(root, *overrides: str):
    return build_config(
        {"data": {"name": "fashion-mnist", "root": str(root), "download": False}}, list(overrides)
    )


def _from_official_test(images: np.ndarray, official: dict) -> int:
    """How many of ``images`` (N×28×28×1) are official test images, found by their pixels."""
    test = {x.tobytes() for x in official["test"][0]}
    return sum(x[..., 0].tobytes() in test for x in images)


def test_data_split_notes_the_official_test_images_it_pools_and_data_info_too(fm, capsys):
    root, official = fm
    with pytest.warns(vislab.Note) as notes:
        splits = load_splits(_config(root, "data.split=[400,100,100]").data, seed=0)
    in_train, in_val, in_test = (_from_official_test(s.x, official) for _, s in splits.items())
    assert in_train > 0 and in_val > 0 and in_test < 50  # the pool: 1 image in 7 is official test
    note = one_line(" ".join(str(n.message) for n in notes))
    assert (
        f"train holds {in_train} and val {in_val} of the 100 official test images, and {in_test} of "
        f"the 100 test images ({in_test / 100:.1%}) are official test images" in note
    ), note
    code, text = cli(capsys, "data", "info", "fashion-mnist", *SETS, "--set", f"data.root={root}",
                     "--set", "data.split=[400,100,100]")  # fmt: skip
    assert code == 0 and f"train holds {in_train} and val {in_val} of the 100" in one_line(text)


@pytest.mark.parametrize(
    "given, promised",
    [
        (["data.split=[400,100,100]"], [400, 100, 100]),
        (["data.split=[300,50,40]"], [300, 40, 40]),  # data.limit_eval samples val too
        (["data.split=[400,100,100]", "data.limit_eval=60"], [400, 60, 60]),
        (["data.split=[400,100,100]", "data.limit_per_class=20"], [200, 100, 100]),
    ],
)
def test_the_settings_the_note_suggests_keep_the_official_test_set(fm, given, promised):
    root, official = fm
    with pytest.warns(vislab.Note) as notes:
        load_splits(_config(root, *given).data, seed=0)
    note = one_line(" ".join(str(n.message) for n in notes))
    suggested = re.search(r"To keep the official test set as test: (.*?) / ", note).group(1)
    settings = shlex.split(suggested)[1::2]  # --set A --set B
    said = re.search(
        r"\(train (\d+) and val (\d+) images of the official train set, test (\d+) of", note
    )
    assert [int(n) for n in said.groups()] == promised, note
    splits = load_splits(_config(root, *given, *settings).data, seed=0)
    assert [len(s) for _, s in splits.items()] == promised
    assert _from_official_test(splits.test.x, official) == promised[2]  # all official test images
    assert _from_official_test(np.concatenate([splits.train.x, splits.val.x]), official) == 0


def test_official_sets_drawn_without_data_split_get_no_note(fm, recwarn):
    root, _ = fm
    load_splits(_config(root, "data.limit=300", "data.limit_eval=50").data, seed=0)
    assert not [w for w in recwarn if "pooled" in str(w.message)]


def test_each_sample_knows_its_official_set_and_index_cached_or_not(fm, monkeypatch):
    root, official = fm
    cfg = _config(root, "data.split=[400,100,100]", "data.limit_eval=60").data
    with pytest.warns(vislab.Note):
        first = load_splits(cfg, seed=0)
    import vislab.data.sources.idx as idx

    monkeypatch.setattr(idx, "_decode_pair", lambda *a: pytest.fail("decoded again, not cached"))
    with pytest.warns(vislab.Note):
        again = load_splits(cfg, seed=0)
    for (split, s), (_, t) in zip(first.items(), again.items()):
        assert s.sources() == t.sources(), split
        for source, x, y in zip(s.sources(), s.x, s.y):
            name, i = re.fullmatch(r"(train|test)\[(\d+)\]", source).groups()
            assert np.array_equal(official[name][0][int(i)], x[..., 0]), source
            assert official[name][1][int(i)] == y, source
        assert s.origin.nbytes == 16 * len(s)  # two ints a sample, no strings


@pytest.fixture(scope="module")
def fm_run(fm, tmp_path_factory):
    """A tiny MLP trained on the folder's pooled sets (data.split), its test split sampled (limit_eval)."""
    root, official = fm
    out = tmp_path_factory.mktemp("fm-run") / "run"
    with warnings.catch_warnings():  # data.split's note (tested above)
        warnings.simplefilter("ignore", vislab.Note)
        run = vislab.train(
            model="mlp", data="fashion-mnist", data__root=str(root), data__download=False,
            data__split=[400, 100, 100], data__limit_eval=60, out=out, train__epochs=1,
            train__figures=False, model__hidden=[16], train__batch_size=32, train__device="cpu",
        )  # fmt: skip
    return run, official


def test_mistakes_csv_names_each_wrong_images_official_set_and_index(fm_run, capsys):
    run, official = fm_run
    code, text = cli(capsys, "eval", run.path, "--mistakes", "0")
    assert code == 0 and "source" in text, text
    rows = pd.read_csv(run.path / "figures" / "mistakes_test.csv", keep_default_na=False)
    assert list(rows.columns) == ["file", "index", "true", "predicted", "probability", "source"]
    assert len(rows) > 20
    classes = list(FASHION_MNIST.class_names)
    for source, true in zip(rows["source"], rows["true"]):
        name, i = re.fullmatch(r"(train|test)\[(\d+)\]", source).groups()
        assert classes[official[name][1][int(i)]] == true, source
    looked_up = [
        classes[official["test"][1][i]] for i in rows["index"]
    ]  # the index as the source's
    assert np.mean(np.array(looked_up) == rows["true"].to_numpy()) < 0.5
    # the run's data.split: training said its note, eval does not repeat it
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        table = run.mistakes()
    assert not [w for w in said if "pooled" in str(w.message)], [str(w.message) for w in said]
    pd.testing.assert_frame_equal(table.astype(str), rows.astype(str))


def test_data_info_header_is_one_line(fm, capsys):
    root, _ = fm
    code, text = cli(capsys, "data", "info", "fashion-mnist", *SETS, "--set", f"data.root={root}")
    assert code == 0
    assert "fashion-mnist: images 28×28×1 uint8, 10 classes" in text.splitlines(), text
