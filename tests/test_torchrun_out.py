"""``torchrun -m vislab train`` without ``--out``: every rank trains into the folder rank 0 names. Each rank
names ``runs/<model>-<data>-<time>`` by its own clock, and ranks that start a second apart named two
folders (one rank then failed on a folder that was not a run). Ranks as spawned processes (gloo, CPU): the
``unnamed`` run of the launch that test_distributed reads too (ddp_ranks.launched_once)."""

from __future__ import annotations

from ddp_ranks import launched_once


def test_every_rank_trains_into_the_folder_rank_0_names(tmp_path_factory):
    runs = launched_once(tmp_path_factory) / "unnamed" / "runs"  # each rank's clock: its own name
    assert sorted(p.name for p in runs.iterdir()) == ["clock-of-rank-0"]
    assert (runs / "clock-of-rank-0" / "summary.json").is_file()
