"""Fuzzing the file readers: any bytes either load or raise a UserError — never another exception."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures import cifar_batch_bytes, cifar_images, idx_bytes
from vislab.data.sources.cifar import read_cifar_batch
from vislab.data.sources.idx import read_idx
from vislab.errors import UserError

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID_IDX = idx_bytes(np.arange(3 * 5 * 4, dtype=np.uint8).reshape(3, 5, 4))
VALID_IDX_GZ = gzip.compress(VALID_IDX, mtime=0)
VALID_CIFAR = cifar_batch_bytes(*cifar_images(3))


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """``base`` with a few random edits: overwritten, inserted or deleted bytes, or a truncation."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        else:
            del data[pos:]
    return bytes(data)


def inputs(*bases: bytes):
    return st.one_of(st.binary(max_size=600), *(mutated(b) for b in bases), st.sampled_from(bases))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(data=inputs(VALID_IDX, VALID_IDX_GZ), how=st.sampled_from(["raw", "named-gz", "gzip"]))
def test_idx_reader(workdir, data, how):
    """raw: the bytes as a plain file; named-gz: the same bytes named .gz; gzip: the bytes gzip-compressed."""
    path = workdir / ("f.idx" if how == "raw" else "f.idx.gz")
    path.write_bytes(gzip.compress(data, mtime=0) if how == "gzip" else data)
    try:
        arr = read_idx(path)
    except UserError as e:
        assert str(path) in str(e)
        return
    assert isinstance(arr, np.ndarray) and arr.dtype.isnative


@FUZZ
@given(data=inputs(VALID_CIFAR))
def test_cifar_batch_reader(workdir, data):
    path = workdir / "data_batch_1"
    path.write_bytes(data)
    try:
        x, y = read_cifar_batch(path)
    except UserError as e:
        assert str(path) in str(e)
        return
    assert x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3) and len(x) == len(y)
    assert y.dtype == np.int64 and y.min() >= 0 and y.max() <= 9
