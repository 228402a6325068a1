-- A rollup keeps CPU and memory each from one source (the history never
-- averages two): source is now CPU's (vcpu added), memory_source memory's,
-- and each counts its samples. SQLite cannot change a CHECK in place, so
-- the table is rebuilt. Keep the logical schema equal to
-- migrations/postgres/0003_rollup_sources.sql.
CREATE TABLE rollup_1m_new (
	vm_id      TEXT    NOT NULL REFERENCES vm (id) ON DELETE CASCADE,
	minute_ms  INTEGER NOT NULL,
	samples    INTEGER NOT NULL CHECK (samples >= 0),
	source     TEXT    NOT NULL CHECK (source IN ('guest', 'vcpu', 'host', 'none')),
	cpu_usage_percent_avg REAL,
	cpu_usage_percent_max REAL,
	memory_usage_percent_avg REAL,
	memory_usage_percent_max REAL,
	memory_used_kb_avg REAL,
	memory_used_kb_max REAL,
	memory_total_kb_avg REAL,
	memory_total_kb_max REAL,
	net_rx_bytes_per_sec_avg REAL,
	net_rx_bytes_per_sec_max REAL,
	net_tx_bytes_per_sec_avg REAL,
	net_tx_bytes_per_sec_max REAL,
	disk_read_bytes_per_sec_avg REAL,
	disk_read_bytes_per_sec_max REAL,
	disk_write_bytes_per_sec_avg REAL,
	disk_write_bytes_per_sec_max REAL,
	memory_source         TEXT    NOT NULL CHECK (memory_source IN ('guest', 'balloon', 'host', 'none')),
	source_samples        INTEGER NOT NULL CHECK (source_samples BETWEEN 0 AND samples),
	memory_source_samples INTEGER NOT NULL CHECK (memory_source_samples BETWEEN 0 AND samples),
	PRIMARY KEY (vm_id, minute_ms)
) STRICT, WITHOUT ROWID;

-- Rows written before: their one source was both figures', over all samples.
INSERT INTO rollup_1m_new (vm_id, minute_ms, samples, source, cpu_usage_percent_avg, cpu_usage_percent_max, memory_usage_percent_avg, memory_usage_percent_max, memory_used_kb_avg, memory_used_kb_max, memory_total_kb_avg, memory_total_kb_max, net_rx_bytes_per_sec_avg, net_rx_bytes_per_sec_max, net_tx_bytes_per_sec_avg, net_tx_bytes_per_sec_max, disk_read_bytes_per_sec_avg, disk_read_bytes_per_sec_max, disk_write_bytes_per_sec_avg, disk_write_bytes_per_sec_max, memory_source, source_samples, memory_source_samples)
	SELECT vm_id, minute_ms, samples, source, cpu_usage_percent_avg, cpu_usage_percent_max, memory_usage_percent_avg, memory_usage_percent_max, memory_used_kb_avg, memory_used_kb_max, memory_total_kb_avg, memory_total_kb_max, net_rx_bytes_per_sec_avg, net_rx_bytes_per_sec_max, net_tx_bytes_per_sec_avg, net_tx_bytes_per_sec_max, disk_read_bytes_per_sec_avg, disk_read_bytes_per_sec_max, disk_write_bytes_per_sec_avg, disk_write_bytes_per_sec_max, source, samples, samples FROM rollup_1m;

DROP TABLE rollup_1m;
ALTER TABLE rollup_1m_new RENAME TO rollup_1m;
CREATE INDEX rollup_1m_minute ON rollup_1m (minute_ms);
