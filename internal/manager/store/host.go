package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const hostColumns = `id, url, name, created_ms, updated_ms`

// CreateHost implements Store.
func (s *sqlStore) CreateHost(ctx context.Context, h Host) (Host, error) {
	if h.ID == "" || h.URL == "" {
		return Host{}, fmt.Errorf("a host needs an id and a url: %w", ErrInvalid)
	}
	row := s.write.QueryRowContext(ctx, `INSERT INTO host (`+hostColumns+`)
		VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT DO NOTHING
		RETURNING `+hostColumns, h.ID, h.URL, h.Name, s.nowMs())
	created, err := scanHost(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Host{}, fmt.Errorf("host %s: %w", h.URL, ErrExists)
	}
	if err != nil {
		return Host{}, s.fail("creating host "+h.URL, err)
	}
	return created, nil
}

// GetHost implements Store.
func (s *sqlStore) GetHost(ctx context.Context, id string) (Host, error) {
	h, err := scanHost(s.read.QueryRowContext(ctx, `SELECT `+hostColumns+` FROM host WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Host{}, fmt.Errorf("host %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Host{}, s.fail(fmt.Sprintf("reading host %q", id), err)
	}
	return h, nil
}

// ListHosts implements Store.
func (s *sqlStore) ListHosts(ctx context.Context) ([]Host, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+hostColumns+` FROM host ORDER BY url`)
	if err != nil {
		return nil, s.fail("listing hosts", err)
	}
	defer rows.Close()
	hosts := []Host{}
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, s.fail("listing hosts", err)
		}
		hosts = append(hosts, h)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("listing hosts", err)
	}
	return hosts, nil
}

// SetHostName implements Store.
func (s *sqlStore) SetHostName(ctx context.Context, id, name string) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE host SET name = $2, updated_ms = $3 WHERE id = $1 AND name <> $2`,
		id, name, s.nowMs()); err != nil {
		return s.fail(fmt.Sprintf("naming host %q", id), err)
	}
	return nil
}

// DeleteHost implements Store: its VMs are marked gone and lose their
// host_id (ON DELETE SET NULL) in the same transaction.
func (s *sqlStore) DeleteHost(ctx context.Context, id string, goneMs int64) error {
	return s.inTx(ctx, fmt.Sprintf("deleting host %q", id), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE vm SET gone_ms = $2, updated_ms = $2 WHERE host_id = $1 AND gone_ms IS NULL`, id, goneMs); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM host WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fmt.Errorf("host %q: %w", id, ErrNotFound))
		}
		return nil
	})
}

// SetVMsGone implements Store, in batches of at most 500 ids per
// statement.
func (s *sqlStore) SetVMsGone(ctx context.Context, ids []string, goneMs int64) error {
	return s.inTx(ctx, "marking vms gone", func(tx *sql.Tx) error {
		for len(ids) > 0 {
			n := min(len(ids), 500)
			args := make([]any, 0, n+2)
			args = append(args, nullInt64(goneMs), s.nowMs())
			marks := make([]string, n)
			for i, id := range ids[:n] {
				args = append(args, id)
				marks[i] = "$" + strconv.Itoa(i+3)
			}
			q := `UPDATE vm SET gone_ms = $1, updated_ms = $2 WHERE id IN (` + strings.Join(marks, ", ") + `)`
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			ids = ids[n:]
		}
		return nil
	})
}

// PruneVMs implements Store. Rollups and events go through ON DELETE
// CASCADE, within the same statement.
func (s *sqlStore) PruneVMs(ctx context.Context, q PruneQuery) ([]string, error) {
	var where string
	var args []any
	switch {
	case q.Oldest > 0:
		where, args = `id IN (SELECT id FROM vm WHERE gone_ms IS NOT NULL ORDER BY gone_ms, id LIMIT $1)`, []any{q.Oldest}
	case q.GoneBeforeMs > 0:
		where, args = `gone_ms IS NOT NULL AND gone_ms < $1`, []any{q.GoneBeforeMs}
		if q.Unsampled {
			// A minute with a figure: CPU or memory from a source, or rates.
			where += ` AND host_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rollup_1m r WHERE r.vm_id = vm.id AND
				(r.source <> 'none' OR r.memory_source <> 'none' OR r.net_rx_bytes_per_sec_avg IS NOT NULL OR r.disk_read_bytes_per_sec_avg IS NOT NULL))`
		}
	default:
		return nil, nil
	}
	rows, err := s.write.QueryContext(ctx, `DELETE FROM vm WHERE `+where+` RETURNING id`, args...)
	if err != nil {
		return nil, s.fail("pruning gone vms", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.fail("pruning gone vms", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("pruning gone vms", err)
	}
	return ids, nil
}

// inTx runs fn in a transaction, committed when fn returns nil. Errors of
// the store's own (ErrNotFound and the like) pass through; the driver's are
// wrapped as op's.
func (s *sqlStore) inTx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrExists) {
			return err
		}
		return s.fail(op, err)
	}
	if err := tx.Commit(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

func scanHost(r scanner) (Host, error) {
	var h Host
	err := r.Scan(&h.ID, &h.URL, &h.Name, &h.CreatedMs, &h.UpdatedMs)
	return h, err
}
