"""The SQL of a shared suite's claims (claims.py): its two tables, and the one statement that claims the next
run — pending, or held by a worker gone silent or dead — so that two workers never get the same row."""

LOCK_KEY = 0x76_69_73_6C_61_62  # "vislab": serialises table creation and registration
SCHEMA = """
CREATE TABLE IF NOT EXISTS vislab_suite (
    name TEXT PRIMARY KEY,
    runs JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    reported_by TEXT,
    reported_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS vislab_suite_run (
    suite TEXT NOT NULL REFERENCES vislab_suite (name) ON DELETE CASCADE,
    run TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    worker TEXT, host TEXT, pid INTEGER, run_dir TEXT,
    claimed_at TIMESTAMPTZ, heartbeat_at TIMESTAMPTZ, lapse_s DOUBLE PRECISION,
    attempts INTEGER NOT NULL DEFAULT 0,
    message TEXT, summary JSONB, metrics TEXT, config TEXT,
    PRIMARY KEY (suite, run)
);
"""
# the runs a worker may claim: pending, or held by another worker gone silent (its heartbeat older than
# its lapse) or dead (its pid gone on this host)
TAKEABLE = """
    suite = %(suite)s AND (status = 'pending' OR (status = 'running' AND worker <> %(worker)s
        AND (heartbeat_at < now() - lapse_s * interval '1 second'
             OR (host = %(host)s AND pid = ANY(%(dead)s::integer[])))))"""
CLAIM = f"""
WITH next AS (
    SELECT run, host AS old_host, pid AS old_pid, status = 'pending' AS handed_back,
           EXTRACT(EPOCH FROM now() - heartbeat_at) AS silent_s
    FROM vislab_suite_run
    WHERE {TAKEABLE} AND run <> ALL(%(skip)s::text[])
    ORDER BY position LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE vislab_suite_run AS r
SET status = 'running', worker = %(worker)s, host = %(host)s, pid = %(pid)s,
    run_dir = %(out)s || '/' || r.run,
    claimed_at = now(), heartbeat_at = now(), lapse_s = %(lapse)s, attempts = r.attempts + 1
FROM next WHERE r.suite = %(suite)s AND r.run = next.run
RETURNING r.run, r.attempts, next.old_host, next.old_pid, next.silent_s, next.handed_back
"""
# a worker's heartbeat: the runs it holds are alive
BEAT = """
UPDATE vislab_suite_run SET heartbeat_at = now()
WHERE suite = %(suite)s AND worker = %(worker)s AND status = 'running'"""
# a worker stopping: the runs it still holds go back (pending), for another worker or a re-run
HAND_BACK = """
UPDATE vislab_suite_run SET status = 'pending'
WHERE suite = %(suite)s AND worker = %(worker)s AND status = 'running'"""
