-- A rollup keeps CPU and memory each from one source (the history never
-- averages two): source is now CPU's (vcpu added), memory_source memory's,
-- and each counts its samples. Keep the logical schema equal to
-- migrations/sqlite/0003_rollup_sources.sql.
ALTER TABLE rollup_1m DROP CONSTRAINT rollup_1m_source_check;
ALTER TABLE rollup_1m ADD CONSTRAINT rollup_1m_source_check CHECK (source IN ('guest', 'vcpu', 'host', 'none'));
ALTER TABLE rollup_1m ADD COLUMN memory_source TEXT;
ALTER TABLE rollup_1m ADD COLUMN source_samples INTEGER;
ALTER TABLE rollup_1m ADD COLUMN memory_source_samples INTEGER;
-- Rows written before: their one source was both figures', over all samples.
UPDATE rollup_1m SET memory_source = source, source_samples = samples, memory_source_samples = samples;
ALTER TABLE rollup_1m ALTER COLUMN memory_source SET NOT NULL;
ALTER TABLE rollup_1m ALTER COLUMN source_samples SET NOT NULL;
ALTER TABLE rollup_1m ALTER COLUMN memory_source_samples SET NOT NULL;
ALTER TABLE rollup_1m ADD CONSTRAINT rollup_1m_memory_source_check CHECK (memory_source IN ('guest', 'balloon', 'host', 'none'));
ALTER TABLE rollup_1m ADD CONSTRAINT rollup_1m_source_samples_check
	CHECK (source_samples BETWEEN 0 AND samples AND memory_source_samples BETWEEN 0 AND samples);
