-- What happened to VMs: restores, reboots, OOM kills, VMM exits, source
-- changes, agent restarts, clock skew, failed cross-checks. Keep the
-- logical schema equal to migrations/postgres/0004_events.sql.
CREATE TABLE event (
	id       INTEGER NOT NULL PRIMARY KEY,
	vm_id    TEXT    NOT NULL REFERENCES vm (id) ON DELETE CASCADE,
	type     TEXT    NOT NULL CHECK (type <> ''),
	ts_ms    INTEGER NOT NULL,
	message  TEXT    NOT NULL,
	detail   TEXT    NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX event_vm ON event (vm_id, ts_ms);
CREATE INDEX event_ts ON event (ts_ms);
