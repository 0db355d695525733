"""Suites: a YAML file = a base config + named runs with overrides (spec.py), planned (plan.py) and run on
one machine (runner.py; jobs.py trains each and gives its outcome, pool.py in this process or in --jobs
processes); ``vislab quickstart`` (quickstart.py). The built-in suites: builtin/*.yaml."""
