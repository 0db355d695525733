"""`vislab sweep` and `vislab export` check --out (Python: out=) before any work: a folder under a regular
file, or one /proc cannot hold, is refused with a message naming it (exit 2, no traceback; in Python a
vislab.UserError), before a trial trains or a model is exported; an OSError of a path that cannot exist
that still reaches the command line is a message too."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import DROP, cli, one_line, tiny_sweep

PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
NOPE = "/proc/vislab-nope"  # /proc is there; nothing can be created in it, root included

# a tiny sweep: nothing of it trains here (the refusals come first)
SPEC = tiny_sweep(name="paths", metric="val_pacc", seed=DROP)


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "taken"
    path.write_text("a file where --out wants a folder")
    return path


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return path


@pytest.fixture
def sweeps_run(monkeypatch) -> list:
    """The folders ``run_sweep`` was asked to run a sweep into (it runs none here)."""
    import vislab.experiments.sweeps.runner as runner

    calls: list = []
    monkeypatch.setattr(runner, "run_sweep", lambda spec, out, **kw: calls.append(out))
    return calls


@pytest.fixture
def exports_made(monkeypatch) -> list:
    """The models loaded or exported by ``export_run`` (the spy stops at loading)."""
    import vislab.export as export

    calls: list = []

    def spy(*args, **kw):
        calls.append(args)
        raise AssertionError("export work started before --out was checked")

    for name in ("picked_model", "to_torchscript", "to_onnx"):
        monkeypatch.setattr(export, name, spy)
    return calls


# ------------------------------------------------------------------------------------------- sweep
def test_sweep_refuses_an_out_under_a_file_before_any_trial(spec_file, a_file, sweeps_run, capsys):
    code, text = cli(capsys, "sweep", spec_file, "--trials", "1", "--out", a_file / "sub")
    text = one_line(text)
    assert code == 2, text
    assert f"'{a_file}' is a file, not a folder" in text and "no trial was run" in text, text
    assert sweeps_run == []


@PROC
def test_sweep_refuses_an_out_proc_cannot_hold(spec_file, sweeps_run, capsys):
    code, text = cli(capsys, "sweep", spec_file, "--trials", "1", "--out", NOPE)
    text = one_line(text)
    assert code == 2, text
    assert f"cannot create '{NOPE}' (No such file or directory)" in text, text
    assert "no trial was run" in text and sweeps_run == []


@pytest.mark.parametrize("given", ["file", "mapping"])
def test_sweep_api_raises_user_error_for_an_out_under_a_file(given, spec_file, a_file, sweeps_run):
    spec = spec_file if given == "file" else dict(SPEC)
    with pytest.raises(vislab.UserError, match="is a file, not a folder"):
        vislab.sweep(spec, out=a_file / "sub", trials=1)
    assert sweeps_run == [] and a_file.read_text().startswith("a file")


@PROC
@pytest.mark.parametrize("given", ["file", "mapping"])
def test_sweep_api_raises_user_error_for_an_out_proc_cannot_hold(given, spec_file, sweeps_run):
    spec = spec_file if given == "file" else dict(SPEC)
    with pytest.raises(vislab.UserError, match="No such file or directory"):
        vislab.sweep(spec, out=NOPE, trials=1)
    assert sweeps_run == []


# ------------------------------------------------------------------------------------------ export
def _under_file(a_file: Path) -> list[tuple[str, str]]:
    """--out values under a regular file, with the file the message must name."""
    return [(f"{a_file}/x/", str(a_file)), (f"{a_file}/x.pt", str(a_file))]


def _under_proc() -> list[tuple[str, str]]:
    return [(f"{NOPE}/", NOPE), ("/proc/vislab-m.pt", "/proc")]


@pytest.mark.parametrize("where", ["file", pytest.param("proc", marks=PROC)])
def test_export_refuses_an_unwritable_out_before_exporting(
    where, trained, a_file, exports_made, capsys
):
    for out, named in _under_file(a_file) if where == "file" else _under_proc():
        code, text = cli(capsys, "export", trained, "--format", "torchscript", "--out", out)
        text = one_line(text)
        assert code == 2, (out, text)
        assert f"'{named}'" in text and "nothing was exported" in text, (out, text)
        if where == "file":
            assert "is a file, not a folder" in text, (out, text)
    assert exports_made == []


@pytest.mark.parametrize("where", ["file", pytest.param("proc", marks=PROC)])
def test_run_export_raises_user_error_for_an_unwritable_out(where, trained, a_file, exports_made):
    run = vislab.load_run(trained)
    for out, named in _under_file(a_file) if where == "file" else _under_proc():
        with pytest.raises(vislab.UserError, match="nothing was exported") as caught:
            run.export("torchscript", out=out)
        assert f"'{named}'" in str(caught.value)
        assert "--out (Python: out=)" in str(caught.value)  # a notebook's words too
    assert exports_made == []


# --------------------------------------------------------------------- an OSError that gets through
def test_a_path_that_cannot_exist_is_a_message_not_a_traceback(trained, monkeypatch, capsys):
    import vislab.export as export

    def missing(*args, **kw):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/proc/q/model.pt")

    monkeypatch.setattr(export, "export_run", missing)
    code, text = cli(capsys, "export", trained, "--format", "torchscript", "--out", "/proc/q/")
    text = one_line(text)
    assert code == 2, text
    assert "'/proc/q/model.pt': No such file or directory" in text, text
    assert "choose another --out" in text, text


def test_sweep_file_takes_out_so_the_fix_is_another_out(spec_file, tmp_path, monkeypatch, capsys):
    import vislab.experiments.sweeps.runner as runner

    def not_a_folder(spec, out, **kw):
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(Path(out) / "trials"))

    monkeypatch.setattr(runner, "run_sweep", not_a_folder)
    code, text = cli(capsys, "sweep", spec_file, "--trials", "1", "--out", tmp_path / "sw")
    text = one_line(text)
    assert code == 2, text
    assert "choose another --out" in text and "run the command on the copy" not in text, text
