"""A fitted model under data parallelism, concurrent sweep workers, a CIFAR-10 folder missing a batch."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import torch.multiprocessing as mp

from conftest import tiny_config
from ddp_ranks import _PRELOAD, free_port

# --- `vislab train --nproc 2` of a model fitted on arrays (majority, svm) --------------------------------


def _fit_rank(rank: int, world: int, port: int, out: Path) -> None:
    """One rank of ``vislab.train`` of a majority model into ``out``; rank 0 is slow to write config.yaml
    (its set-up took longer: the race that failed 3 runs in 3 of the teacher's)."""
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    import vislab.training.rundir as rundir
    from vislab.api.runs import train_config
    from vislab.cli.worker import leave

    if rank == 0:
        write = rundir.RunDir.write_config

        def late(self, *args, **kwargs):
            time.sleep(1.5)
            write(self, *args, **kwargs)

        rundir.RunDir.write_config = late
    cfg = tiny_config("model.name=majority", "train.device=cpu")
    train_config(cfg, out, quiet=True)  # rank 1 read the folder before rank 0 had written it
    leave(0)  # as a --nproc worker ends (vislab.cli.worker)


def test_nproc_fit_of_a_majority_model_waits_for_rank_0s_run_folder(tmp_path):
    """`vislab train --nproc 2 --set model.name=majority` failed 3/3: rank 1, with no collective in the fit,
    ended before rank 0 had written config.yaml and said "'runs/x' is not a vislab run directory (it holds
    no config.yaml)"; torchrun then stopped rank 0 while it drew the figures. Every rank now leaves the
    fit once rank 0 has saved it."""
    out = tmp_path / "ddpmaj2"
    multiprocessing.set_forkserver_preload(_PRELOAD)
    mp.start_processes(
        _fit_rank, args=(2, free_port(), out), nprocs=2, start_method="forkserver"
    )  # raises when a rank does
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["world_size"] == 2


# --- seeded sweeps with several workers ------------------------------------------------------------------


def _seeded_sweep(tmp_path: Path):
    """A sweep file of seed 0 over optim.lr and model.hidden, loaded."""
    from conftest import tiny_base
    from vislab.experiments.sweeps.spec import load_sweep

    spec = {
        "name": "seeded",
        "base": tiny_base(),
        "space": {
            "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "model.hidden": {"type": "categorical", "choices": [[8], [16], [32]]},
        },
        "metric": "val_pacc",
        "sampler": "random",
        "seed": 0,
    }
    path = tmp_path / "seeded.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return load_sweep(path)


def _first_trial(sweep, db: Path) -> dict:
    """The parameters a worker joining the study in ``db`` draws for its first trial."""
    from vislab.experiments.sweeps.joining import join_study
    from vislab.experiments.sweeps.study import open_storage

    study = join_study(sweep, open_storage(f"sqlite:///{db}"))
    return study.ask(fixed_distributions=sweep.distributions).params


def test_seeded_sweep_workers_started_together_draw_their_own_trials(tmp_path):
    """Two workers of a seeded sweep that joined the study before either had a trial drew the same
    samples, trial for trial (each seeded alike: the study held no trial yet)."""
    from vislab.experiments.sweeps.joining import join_study
    from vislab.experiments.sweeps.study import open_storage

    sweep = _seeded_sweep(tmp_path)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    first, second = (join_study(sweep, open_storage(url)) for _ in range(2))
    drawn = [s.ask(fixed_distributions=sweep.distributions).params for s in (first, second)]
    assert drawn[0] != drawn[1]
    again = [s.ask(fixed_distributions=sweep.distributions).params for s in (first, second)]
    assert len({json.dumps(p, sort_keys=True) for p in [*drawn, *again]}) == 4


def test_a_seeded_sweep_alone_in_a_new_study_draws_the_same_trials(tmp_path):
    sweep = _seeded_sweep(tmp_path)
    assert _first_trial(sweep, tmp_path / "a.db") == _first_trial(sweep, tmp_path / "b.db")
