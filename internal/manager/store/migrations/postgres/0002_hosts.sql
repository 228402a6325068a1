-- Host agents the manager collects from, and the VMs they report. Keep the
-- logical schema equal to migrations/sqlite/0002_hosts.sql.
CREATE TABLE host (
	id         TEXT   NOT NULL PRIMARY KEY,
	url        TEXT   NOT NULL UNIQUE CHECK (url <> ''),
	name       TEXT   NOT NULL DEFAULT '',
	created_ms BIGINT NOT NULL,
	updated_ms BIGINT NOT NULL
);

-- A VM found by a host agent: host_id and the host agent's id for it
-- (unique per host); gone_ms is set when its host agent stopped reporting
-- it, and cleared if it comes back.
ALTER TABLE vm ADD COLUMN host_id TEXT REFERENCES host (id) ON DELETE SET NULL;
ALTER TABLE vm ADD COLUMN host_vm_id TEXT;
ALTER TABLE vm ADD COLUMN gone_ms BIGINT;

CREATE UNIQUE INDEX vm_host ON vm (host_id, host_vm_id);
CREATE INDEX vm_gone ON vm (gone_ms) WHERE gone_ms IS NOT NULL;
