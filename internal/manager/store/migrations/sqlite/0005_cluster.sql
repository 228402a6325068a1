-- Managers sharing one database (PostgreSQL) and who collects each host
-- agent: a member row per running manager, renewed every second, and a
-- lease per host agent held by at most one member until it expires.
-- Keep the logical schema equal in migrations/postgres and migrations/sqlite.
CREATE TABLE cluster_member (
	id           TEXT   NOT NULL PRIMARY KEY,
	name         TEXT   NOT NULL,
	url          TEXT   NOT NULL,
	started_ms   BIGINT NOT NULL,
	heartbeat_ms BIGINT NOT NULL
);

CREATE TABLE host_lease (
	host_id    TEXT   NOT NULL PRIMARY KEY REFERENCES host (id) ON DELETE CASCADE,
	owner      TEXT   NOT NULL,
	expires_ms BIGINT NOT NULL
);

CREATE INDEX host_lease_owner ON host_lease (owner);
