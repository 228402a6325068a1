package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// EventQuery selects events: of one VM and one type when set, with
// SinceMs <= timestamp < UntilMs (UntilMs 0: no end), newest first, at most
// Limit (1 to 1000).
type EventQuery struct {
	VMID, Type string
	// VMIDs, when not nil, keeps the events of these VMs only (a label
	// selector's VMs); empty: none.
	VMIDs            []string
	SinceMs, UntilMs int64
	Limit            int
}

// AddEvents implements Store.
func (s *sqlStore) AddEvents(ctx context.Context, events []wire.Event) ([]wire.Event, error) {
	for _, e := range events {
		if e.VMID == "" || e.Type == "" {
			return nil, fmt.Errorf("an event needs a vm id and a type: %w", ErrInvalid)
		}
	}
	out := make([]wire.Event, 0, len(events))
	err := s.inTx(ctx, fmt.Sprintf("storing %d events", len(events)), func(tx *sql.Tx) error {
		for _, e := range events {
			detail, err := json.Marshal(e.Detail)
			if err != nil || e.Detail == nil {
				detail = []byte("{}")
			}
			// A VM deleted meanwhile takes its events with it: skip them.
			row := tx.QueryRowContext(ctx, `INSERT INTO event (vm_id, type, ts_ms, message, detail)
				SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM vm WHERE id = $1)
				RETURNING id`, e.VMID, e.Type, e.TimestampMs, e.Message, string(detail))
			if err := row.Scan(&e.ID); err == sql.ErrNoRows {
				continue
			} else if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Events implements Store.
func (s *sqlStore) Events(ctx context.Context, q EventQuery) ([]wire.Event, error) {
	where := []string{"ts_ms >= $1"}
	args := []any{q.SinceMs}
	if q.UntilMs > 0 {
		args = append(args, q.UntilMs)
		where = append(where, fmt.Sprintf("ts_ms < $%d", len(args)))
	}
	if q.VMID != "" {
		args = append(args, q.VMID)
		where = append(where, fmt.Sprintf("vm_id = $%d", len(args)))
	}
	if q.VMIDs != nil {
		if len(q.VMIDs) == 0 {
			return []wire.Event{}, nil
		}
		ids, _ := json.Marshal(q.VMIDs) // strings always encode
		args = append(args, string(ids))
		where = append(where, s.dialect.inJSONArray("vm_id", fmt.Sprintf("$%d", len(args))))
	}
	if q.Type != "" {
		args = append(args, q.Type)
		where = append(where, fmt.Sprintf("type = $%d", len(args)))
	}
	limit := min(max(q.Limit, 1), 1000)
	rows, err := s.read.QueryContext(ctx, `SELECT id, vm_id, type, ts_ms, message, detail FROM event WHERE `+
		strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY ts_ms DESC, id DESC LIMIT %d`, limit), args...)
	if err != nil {
		return nil, s.fail("reading events", err)
	}
	defer rows.Close()
	out := []wire.Event{}
	for rows.Next() {
		var e wire.Event
		var detail string
		if err := rows.Scan(&e.ID, &e.VMID, &e.Type, &e.TimestampMs, &e.Message, &detail); err != nil {
			return nil, s.fail("reading events", err)
		}
		if detail != "{}" {
			_ = json.Unmarshal([]byte(detail), &e.Detail)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("reading events", err)
	}
	return out, nil
}

// PruneEvents implements Store.
func (s *sqlStore) PruneEvents(ctx context.Context, olderThanMs int64) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM event WHERE ts_ms < $1`, olderThanMs)
	if err != nil {
		return 0, s.fail("pruning events", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("pruning events", err)
	}
	return n, nil
}
