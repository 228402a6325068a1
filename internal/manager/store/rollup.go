package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// statColumns names each figure's column pair prefix, in the order of
// Rollup.stats.
var statColumns = []string{
	"cpu_usage_percent", "memory_usage_percent", "memory_used_kb", "memory_total_kb",
	"net_rx_bytes_per_sec", "net_tx_bytes_per_sec", "disk_read_bytes_per_sec", "disk_write_bytes_per_sec",
	"throttled_percent", "cgroup_memory_kb", "cgroup_memory_limit_kb", "vcpus",
}

// rollupColumns is the column list of rollup_1m in scanRollup's order.
var rollupColumns = func() string {
	cols := []string{"vm_id", "minute_ms", "samples", "source"}
	for _, c := range statColumns {
		cols = append(cols, c+"_avg", c+"_max")
	}
	cols = append(cols, "memory_source", "source_samples", "memory_source_samples")
	return strings.Join(cols, ", ")
}()

// upsertRollupSQL inserts one rollup or replaces the stored one of the same
// VM and minute.
var upsertRollupSQL = func() string {
	cols := strings.Split(rollupColumns, ", ")
	params := make([]string, len(cols))
	var set []string
	for i, c := range cols {
		params[i] = fmt.Sprintf("$%d", i+1)
		if i >= 2 {
			set = append(set, c+" = excluded."+c)
		}
	}
	return "INSERT INTO rollup_1m (" + rollupColumns + ") VALUES (" + strings.Join(params, ", ") +
		") ON CONFLICT (vm_id, minute_ms) DO UPDATE SET " + strings.Join(set, ", ")
}()

// stats lists r's figures in statColumns order.
func (r *Rollup) stats() []*Stat {
	return []*Stat{&r.CPU, &r.MemPct, &r.MemUsedKB, &r.MemTotalKB, &r.NetRx, &r.NetTx, &r.DiskRead, &r.DiskWrite,
		&r.Throttled, &r.CgroupMemKB, &r.CgroupLimitKB, &r.VCPUs}
}

// UpsertRollups implements Store.
func (s *sqlStore) UpsertRollups(ctx context.Context, rollups []Rollup) (err error) {
	for i := range rollups {
		if err := checkRollup(&rollups[i]); err != nil {
			return err
		}
	}
	if len(rollups) == 0 {
		return nil
	}
	if s.dialect.name == "postgres" && len(rollups) >= copyRollupsMin {
		return s.upsertRollupsCopy(ctx, rollups)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("storing rollups", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	stmt, err := tx.PrepareContext(ctx, upsertRollupSQL)
	if err != nil {
		return s.fail("storing rollups", err)
	}
	defer stmt.Close()
	for i := range rollups {
		r := &rollups[i]
		if _, err := stmt.ExecContext(ctx, rollupArgs(r)...); err != nil {
			if s.dialect.isForeignKeyViolation(err) {
				return fmt.Errorf("rollup of vm %q: vm %w", r.VMID, ErrNotFound)
			}
			return s.fail(fmt.Sprintf("storing rollup of vm %q at %d", r.VMID, r.MinuteMs), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.fail("storing rollups", err)
	}
	return nil
}

// Rollups implements Store.
func (s *sqlStore) EachRollup(ctx context.Context, sinceMs, untilMs int64, fn func(Rollup) error) error {
	rows, err := s.read.QueryContext(ctx, `SELECT `+rollupColumns+` FROM rollup_1m
		WHERE minute_ms >= $1 AND minute_ms < $2
		ORDER BY vm_id, minute_ms`, sinceMs, untilMs)
	if err != nil {
		return s.fail("reading rollups", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRollup(rows)
		if err != nil {
			return s.fail("reading rollups", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.fail("reading rollups", err)
	}
	return nil
}

func (s *sqlStore) Rollups(ctx context.Context, vmID string, sinceMs, untilMs int64) ([]Rollup, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+rollupColumns+` FROM rollup_1m
		WHERE vm_id = $1 AND minute_ms >= $2 AND minute_ms < $3
		ORDER BY minute_ms`, vmID, sinceMs, untilMs)
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading rollups of vm %q", vmID), err)
	}
	defer rows.Close()
	out := []Rollup{}
	for rows.Next() {
		r, err := scanRollup(rows)
		if err != nil {
			return nil, s.fail(fmt.Sprintf("reading rollups of vm %q", vmID), err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(fmt.Sprintf("reading rollups of vm %q", vmID), err)
	}
	return out, nil
}

// PruneRollups implements Store.
func (s *sqlStore) PruneRollups(ctx context.Context, olderThanMs int64) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM rollup_1m WHERE minute_ms < $1`, olderThanMs)
	if err != nil {
		return 0, s.fail("pruning rollups", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("pruning rollups", err)
	}
	return n, nil
}

// checkRollup refuses what the schema would refuse, and NaN or infinite
// figures, which SQLite would silently store as NULL.
func checkRollup(r *Rollup) error {
	switch {
	case r.VMID == "":
		return fmt.Errorf("rollup vm id is empty: %w", ErrInvalid)
	case r.Samples < 0:
		return fmt.Errorf("rollup of vm %q: samples %d is negative: %w", r.VMID, r.Samples, ErrInvalid)
	case r.Source != wire.SourceGuest && r.Source != wire.SourceVCPU && r.Source != wire.SourceHost && r.Source != wire.SourceNone:
		return fmt.Errorf("rollup of vm %q: source %q is not guest, vcpu, host or none: %w", r.VMID, r.Source, ErrInvalid)
	case r.MemorySource != wire.SourceGuest && r.MemorySource != wire.SourceBalloon && r.MemorySource != wire.SourceHost && r.MemorySource != wire.SourceNone:
		return fmt.Errorf("rollup of vm %q: memory source %q is not guest, balloon, host or none: %w", r.VMID, r.MemorySource, ErrInvalid)
	case r.SourceSamples < 0 || r.SourceSamples > r.Samples || r.MemorySourceSamples < 0 || r.MemorySourceSamples > r.Samples:
		return fmt.Errorf("rollup of vm %q: source sample counts %d and %d are not within 0–%d: %w",
			r.VMID, r.SourceSamples, r.MemorySourceSamples, r.Samples, ErrInvalid)
	}
	for i, st := range r.stats() {
		if st.Valid && !(finite(st.Avg) && finite(st.Max)) {
			return fmt.Errorf("rollup of vm %q: %s is not a finite number: %w", r.VMID, statColumns[i], ErrInvalid)
		}
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// rollupArgs is r as query arguments in rollupColumns order.
func rollupArgs(r *Rollup) []any {
	args := []any{r.VMID, r.MinuteMs, r.Samples, r.Source}
	for _, st := range r.stats() {
		args = append(args,
			sql.NullFloat64{Float64: st.Avg, Valid: st.Valid},
			sql.NullFloat64{Float64: st.Max, Valid: st.Valid})
	}
	return append(args, r.MemorySource, r.SourceSamples, r.MemorySourceSamples)
}

// scanRollup reads one row of rollupColumns. A figure is Valid when its
// average is not NULL.
func scanRollup(rows *sql.Rows) (Rollup, error) {
	var r Rollup
	stats := r.stats()
	nulls := make([]sql.NullFloat64, 2*len(stats))
	dest := []any{&r.VMID, &r.MinuteMs, &r.Samples, &r.Source}
	for i := range nulls {
		dest = append(dest, &nulls[i])
	}
	dest = append(dest, &r.MemorySource, &r.SourceSamples, &r.MemorySourceSamples)
	if err := rows.Scan(dest...); err != nil {
		return Rollup{}, err
	}
	for i, st := range stats {
		avg, maxv := nulls[2*i], nulls[2*i+1]
		*st = Stat{Avg: avg.Float64, Max: maxv.Float64, Valid: avg.Valid && maxv.Valid}
	}
	return r, nil
}
