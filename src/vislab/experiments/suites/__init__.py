"""Suites: a YAML file = a base config + named runs with overrides (spec.py), planned (plan.py) and run on
one machine (runner.py); ``vislab quickstart`` (quickstart.py). The built-in suites: builtin/*.yaml."""
