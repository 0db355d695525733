"""Many runs: suites (a base config + named overrides) and sweeps (Optuna studies).

    results/     the comparison table of finished runs (results.csv/.md) and the figures the courses'
                 reports published, shown beside it (a suite's ``reported:`` block)
    suites/      a suite file (spec.py), its plan (plan.py) and its runs on one machine (runner.py,
                 each run trained by jobs.py, in this process or --jobs processes by pool.py);
                 quickstart.py; the built-in suites in suites/builtin/*.yaml
    shared/      one suite on several machines: run claims in PostgreSQL (postgres.py, claims.py, runner.py)
    sweeps/      a sweep file (spec.py; a W&B sweep file translated by wandb_sweep.py) and its search space
                 (space.py, samplers.py), the Optuna study (study.py), its trials (objective.py, runner.py)
                 and its tables (trials.py, results.py); the built-in sweeps in sweeps/builtin/*.yaml
    databases.py what a sweep's study storage and a shared suite's database have in common

A loaded suite is a :class:`~vislab.experiments.suites.spec.Suite`, a loaded sweep a
:class:`~vislab.experiments.sweeps.spec.Sweep`: typed objects, read by attribute wherever they go.
"""
