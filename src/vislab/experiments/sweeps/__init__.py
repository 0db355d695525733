"""Sweeps: an Optuna study whose trials are vislab runs. The sweep file (spec.py; a Weights & Biases sweep
file is translated by wandb_sweep.py with the names of wandb_names.py), its search space (space.py), sampler
and pruner (samplers.py), the study's storage (study.py), one trial (objective.py), the workers' loop
(runner.py), and the study as tables and folders (trials.py, results.py). The built-in sweeps: builtin/*.yaml."""
