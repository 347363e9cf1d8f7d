-- What retention by partitions costs per day of runs (store/postgres/partitions.py, README "Retention at scale"):
-- one day's partition filled with :rows runs, then each step the cleanup takes, timed by psql.
--
--   createdb -h 127.0.0.1 -U postgres retention_cost
--   SCHEDULER_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/retention_cost .venv/bin/jobscheduler migrate
--   psql -h 127.0.0.1 -U postgres -d retention_cost -v rows=1000000 -f benchmarks/retention/day_cost.sql
--
-- The day is 20 days ahead (a partition of one day made here, beyond the weeks the product makes). Rows are the
-- size of a finished run with a short result (about 370 bytes each with its index entries, as the history leg's).
\timing on
\set ON_ERROR_STOP on
SELECT to_char(now() AT TIME ZONE 'UTC' + interval '20 days', 'YYYYMMDD') AS day \gset
SELECT 'retention_cost_' || :'day' AS part, to_date(:'day', 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC' AS lo \gset
CREATE TABLE :part (LIKE scheduled_job_execution INCLUDING DEFAULTS);
ALTER TABLE scheduled_job_execution ATTACH PARTITION :part FOR VALUES FROM (:'lo') TO (timestamptz :'lo' + interval '1 day');
INSERT INTO task_function (key, name_en, name_ar) VALUES ('retention_cost', 'x', 'x') ON CONFLICT DO NOTHING;
INSERT INTO scheduled_job (task_function_id, job_type_id, interval_seconds, is_enabled)
SELECT (SELECT id FROM task_function WHERE key = 'retention_cost'), 1, 86, false FROM generate_series(1, 1000);
\echo 'load'
INSERT INTO scheduled_job_execution (job_id, execution_id, scheduled_at, status_id, created_at, started_at,
                                     completed_at, duration_ms, result_summary, executor_id, host_name)
SELECT (SELECT max(id) FROM scheduled_job) - g % 1000, gen_random_uuid()::text,
       timestamptz :'lo' + (g % 86400) * interval '1 second' + (g / 86400) * interval '1 millisecond', 3,
       now(), now(), now(), 12, 'ok', gen_random_uuid()::text, 'executor-host'
FROM generate_series(1, :rows) AS g;
SELECT pg_total_relation_size(:'part') / 1048576.0 AS partition_mb;
\echo 'count, right after loading (sequential scan)'
SELECT count(*) FROM :part;
VACUUM ANALYZE :part;
\echo 'count, after autovacuum has visited (index-only scan)'
SELECT count(*) FROM :part;
\echo 'detach (ACCESS EXCLUSIVE on the parent for its duration)'
ALTER TABLE scheduled_job_execution DETACH PARTITION :part;
\echo 'drop (unlinks the files)'
DROP TABLE :part;
DELETE FROM scheduled_job WHERE task_function_id = (SELECT id FROM task_function WHERE key = 'retention_cost');
DELETE FROM task_function WHERE key = 'retention_cost';
