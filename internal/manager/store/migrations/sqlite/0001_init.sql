-- The VM registry and its 1-minute history rollups. Keep the logical schema
-- equal to migrations/postgres/0001_init.sql.
CREATE TABLE vm (
	id             TEXT    NOT NULL PRIMARY KEY,
	name           TEXT    NOT NULL CHECK (name <> ''),
	guest_ip       TEXT,
	guest_port     INTEGER NOT NULL DEFAULT 8080 CHECK (guest_port BETWEEN 1 AND 65535),
	host_agent_url TEXT,
	vmm_pid        INTEGER CHECK (vmm_pid > 0),
	metrics_fifo   TEXT,
	api_socket     TEXT,
	created_ms     INTEGER NOT NULL,
	updated_ms     INTEGER NOT NULL
) STRICT;

CREATE INDEX vm_name ON vm (name, id);

-- Each figure has an average and a maximum over the minute; both are NULL
-- when no sample of the minute had the figure.
CREATE TABLE rollup_1m (
	vm_id                        TEXT    NOT NULL REFERENCES vm (id) ON DELETE CASCADE,
	minute_ms                    INTEGER NOT NULL,
	samples                      INTEGER NOT NULL CHECK (samples >= 0),
	source                       TEXT    NOT NULL CHECK (source IN ('guest', 'host', 'none')),
	cpu_usage_percent_avg        REAL,
	cpu_usage_percent_max        REAL,
	memory_usage_percent_avg     REAL,
	memory_usage_percent_max     REAL,
	memory_used_kb_avg           REAL,
	memory_used_kb_max           REAL,
	memory_total_kb_avg          REAL,
	memory_total_kb_max          REAL,
	net_rx_bytes_per_sec_avg     REAL,
	net_rx_bytes_per_sec_max     REAL,
	net_tx_bytes_per_sec_avg     REAL,
	net_tx_bytes_per_sec_max     REAL,
	disk_read_bytes_per_sec_avg  REAL,
	disk_read_bytes_per_sec_max  REAL,
	disk_write_bytes_per_sec_avg REAL,
	disk_write_bytes_per_sec_max REAL,
	PRIMARY KEY (vm_id, minute_ms)
) STRICT, WITHOUT ROWID;

-- Pruning deletes by age across all VMs.
CREATE INDEX rollup_1m_minute ON rollup_1m (minute_ms);
