"""One suite on several machines: its runs claimed through a shared PostgreSQL database (postgres.py: the
connection and the claims' timing; claims.py: the tables and claims; runner.py: a worker's loop)."""
