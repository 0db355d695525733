"""Many runs: suites (a base config + named overrides) and sweeps (Optuna studies)."""
