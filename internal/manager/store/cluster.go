package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Member is a manager sharing the database, as GET /v1/cluster shows it.
type Member struct {
	ID          string
	Name        string // host name and listen address, for people
	URL         string // where its API answers (--advertise-url), "" if unknown
	StartedMs   int64
	HeartbeatMs int64
	Hosts       []string // the host agents it holds a live lease on
}

const memberColumns = `id, name, url, started_ms, heartbeat_ms`

// Heartbeat implements Store.
func (s *sqlStore) Heartbeat(ctx context.Context, m Member, forgetAfterMs int64) error {
	now := s.nowMs()
	return s.inTx(ctx, "heartbeat of manager "+m.ID, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cluster_member (`+memberColumns+`) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms, name = excluded.name, url = excluded.url`,
			m.ID, m.Name, m.URL, m.StartedMs, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM cluster_member WHERE heartbeat_ms < $1`, now-forgetAfterMs)
		return err
	})
}

// Members implements Store.
func (s *sqlStore) Members(ctx context.Context, liveWithinMs int64) ([]Member, error) {
	now := s.nowMs()
	rows, err := s.read.QueryContext(ctx, `SELECT `+memberColumns+` FROM cluster_member WHERE heartbeat_ms >= $1 ORDER BY started_ms, id`, now-liveWithinMs)
	if err != nil {
		return nil, s.fail("listing managers", err)
	}
	defer rows.Close()
	var out []Member
	byID := map[string]int{}
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.ID, &m.Name, &m.URL, &m.StartedMs, &m.HeartbeatMs); err != nil {
			return nil, s.fail("listing managers", err)
		}
		m.Hosts = []string{}
		byID[m.ID] = len(out)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("listing managers", err)
	}
	leases, err := s.read.QueryContext(ctx, `SELECT host_id, owner FROM host_lease WHERE expires_ms > $1 ORDER BY host_id`, now)
	if err != nil {
		return nil, s.fail("listing host leases", err)
	}
	defer leases.Close()
	for leases.Next() {
		var host, owner string
		if err := leases.Scan(&host, &owner); err != nil {
			return nil, s.fail("listing host leases", err)
		}
		if i, ok := byID[owner]; ok {
			out[i].Hosts = append(out[i].Hosts, host)
		}
	}
	if err := leases.Err(); err != nil {
		return nil, s.fail("listing host leases", err)
	}
	return out, nil
}

// ClaimHosts implements Store: in one transaction it drops the member's
// leases on hosts it no longer wants, renews those it keeps, takes the
// wanted ones nobody holds (or whose lease expired), and returns the
// hosts it holds now.
func (s *sqlStore) ClaimHosts(ctx context.Context, owner string, want []string, ttlMs int64) ([]string, error) {
	now := s.nowMs()
	var held []string
	err := s.inTx(ctx, "claiming host agents for manager "+owner, func(tx *sql.Tx) error {
		ids := make([]any, len(want))
		for i, id := range want {
			ids[i] = id
		}
		release := `DELETE FROM host_lease WHERE owner = $1`
		if len(want) > 0 {
			release += ` AND host_id NOT IN (` + placeholders(2, len(want)) + `)`
		}
		if _, err := tx.ExecContext(ctx, release, append([]any{owner}, ids...)...); err != nil {
			return err
		}
		args := append([]any{owner, now + ttlMs}, ids...)
		in := placeholders(3, len(want))
		if len(want) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO host_lease (host_id, owner, expires_ms)
				SELECT id, CAST($1 AS TEXT), CAST($2 AS BIGINT) FROM host WHERE id IN (`+in+`)
				ON CONFLICT (host_id) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms
				WHERE host_lease.owner = excluded.owner OR host_lease.expires_ms <= `+strconv.FormatInt(now, 10), args...); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT host_id FROM host_lease WHERE owner = $1 AND expires_ms > $2 ORDER BY host_id`, owner, now)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			held = append(held, id)
		}
		return rows.Err()
	})
	return held, err
}

// LeaveCluster implements Store: a manager shutting down hands its hosts
// over at once rather than when their leases expire.
func (s *sqlStore) LeaveCluster(ctx context.Context, id string) error {
	return s.inTx(ctx, "manager "+id+" leaving", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM host_lease WHERE owner = $1`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM cluster_member WHERE id = $1`, id)
		return err
	})
}

// placeholders returns "$from, $from+1, ..." for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}

// PeerSecret implements Store.
func (s *sqlStore) PeerSecret(ctx context.Context) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO cluster_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`,
		hex.EncodeToString(b)); err != nil {
		return "", s.fail("making the cluster's secret", err)
	}
	var secret string
	if err := s.write.QueryRowContext(ctx, `SELECT secret FROM cluster_secret WHERE id = 1`).Scan(&secret); err != nil {
		return "", s.fail("reading the cluster's secret", err)
	}
	return secret, nil
}
