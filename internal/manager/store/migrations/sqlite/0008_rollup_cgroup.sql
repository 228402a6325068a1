-- The minute's VMM cgroup figures and the VM's size, for the VM page's
-- throttling and memory-limit lines and for GET /v1/usage: the share of
-- CPU quota periods throttled, the cgroup's memory in use (its maximum is
-- the minute's peak) and limit, and the vCPUs. Keep the logical schema
-- equal in migrations/postgres and migrations/sqlite.
ALTER TABLE rollup_1m ADD COLUMN throttled_percent_avg REAL;
ALTER TABLE rollup_1m ADD COLUMN throttled_percent_max REAL;
ALTER TABLE rollup_1m ADD COLUMN cgroup_memory_kb_avg REAL;
ALTER TABLE rollup_1m ADD COLUMN cgroup_memory_kb_max REAL;
ALTER TABLE rollup_1m ADD COLUMN cgroup_memory_limit_kb_avg REAL;
ALTER TABLE rollup_1m ADD COLUMN cgroup_memory_limit_kb_max REAL;
ALTER TABLE rollup_1m ADD COLUMN vcpus_avg REAL;
ALTER TABLE rollup_1m ADD COLUMN vcpus_max REAL;
