package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// vmColumns is the column list every VM query selects, in scanVM's order.
const vmColumns = `id, name, guest_ip, guest_port, host_agent_url, vmm_pid, metrics_fifo, api_socket, created_ms, updated_ms, host_id, host_vm_id, gone_ms, labels, launcher_labels`

// CreateVM implements Store.
func (s *sqlStore) CreateVM(ctx context.Context, vm VM) (VM, error) {
	if vm.GuestPort == 0 {
		vm.GuestPort = wire.DefaultGuestPort
	}
	if err := checkVM(vm); err != nil {
		return VM{}, err
	}
	now := s.nowMs()
	// ON CONFLICT DO NOTHING turns a duplicate into "no row returned"
	// without parsing driver-specific error codes.
	row := s.write.QueryRowContext(ctx, `INSERT INTO vm (`+vmColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14)
		ON CONFLICT DO NOTHING
		RETURNING `+vmColumns,
		vm.ID, vm.Name, nullString(vm.GuestIP), vm.GuestPort, nullString(vm.HostAgentURL),
		nullInt(vm.VMMPID), nullString(vm.MetricsFIFO), nullString(vm.APISocket), now,
		nullString(vm.HostID), nullString(vm.HostVMID), nullInt64(vm.GoneMs),
		nullString(vm.Labels.Encode()), nullString(vm.LauncherLabels.Encode()))
	created, err := scanVM(row)
	if errors.Is(err, sql.ErrNoRows) {
		return VM{}, fmt.Errorf("vm %q: %w", vm.ID, ErrExists)
	}
	if err != nil && s.dialect.isForeignKeyViolation(err) {
		return VM{}, fmt.Errorf("vm %q: host %q: %w", vm.ID, vm.HostID, ErrNotFound)
	}
	if err != nil {
		return VM{}, s.fail(fmt.Sprintf("creating vm %q", vm.ID), err)
	}
	return created, nil
}

// CreateVMs implements Store, a hundred rows per statement.
func (s *sqlStore) CreateVMs(ctx context.Context, vms []VM) ([]VM, error) {
	for i := range vms {
		if vms[i].GuestPort == 0 {
			vms[i].GuestPort = wire.DefaultGuestPort
		}
		if err := checkVM(vms[i]); err != nil {
			return nil, err
		}
	}
	now := s.nowMs()
	var created []VM
	err := s.inTx(ctx, fmt.Sprintf("creating %d vms", len(vms)), func(tx *sql.Tx) error {
		for rest := vms; len(rest) > 0; {
			part := rest[:min(len(rest), 100)]
			rest = rest[len(part):]
			var q strings.Builder
			q.WriteString(`INSERT INTO vm (` + vmColumns + `) VALUES `)
			args := make([]any, 0, 15*len(part))
			for i, vm := range part {
				if i > 0 {
					q.WriteString(", ")
				}
				n := len(args)
				q.WriteByte('(')
				for k := range 15 {
					if k > 0 {
						q.WriteString(", ")
					}
					fmt.Fprintf(&q, "$%d", n+k+1)
				}
				q.WriteByte(')')
				args = append(args, vm.ID, vm.Name, nullString(vm.GuestIP), vm.GuestPort, nullString(vm.HostAgentURL),
					nullInt(vm.VMMPID), nullString(vm.MetricsFIFO), nullString(vm.APISocket), now, now,
					nullString(vm.HostID), nullString(vm.HostVMID), nullInt64(vm.GoneMs),
					nullString(vm.Labels.Encode()), nullString(vm.LauncherLabels.Encode()))
			}
			q.WriteString(` ON CONFLICT DO NOTHING RETURNING ` + vmColumns)
			rows, err := tx.QueryContext(ctx, q.String(), args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				vm, err := scanVM(rows)
				if err != nil {
					rows.Close()
					return err
				}
				created = append(created, vm)
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && s.dialect.isForeignKeyViolation(err) {
		return nil, fmt.Errorf("a vm names an unknown host: %w", ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return created, nil
}

// GetVM implements Store.
func (s *sqlStore) GetVM(ctx context.Context, id string) (VM, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+vmColumns+` FROM vm WHERE id = $1`, id)
	vm, err := scanVM(row)
	if errors.Is(err, sql.ErrNoRows) {
		return VM{}, fmt.Errorf("vm %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return VM{}, s.fail(fmt.Sprintf("reading vm %q", id), err)
	}
	return vm, nil
}

// ListVMs implements Store.
func (s *sqlStore) ListVMs(ctx context.Context) ([]VM, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+vmColumns+` FROM vm ORDER BY name, id`)
	if err != nil {
		return nil, s.fail("listing vms", err)
	}
	defer rows.Close()
	vms := []VM{}
	for rows.Next() {
		vm, err := scanVM(rows)
		if err != nil {
			return nil, s.fail("listing vms", err)
		}
		vms = append(vms, vm)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("listing vms", err)
	}
	return vms, nil
}

// UpdateGuestIP implements Store.
func (s *sqlStore) UpdateGuestIP(ctx context.Context, id, ip string, port int) (VM, error) {
	if port < 0 || port > 65535 {
		return VM{}, fmt.Errorf("vm %q: guest_port %d is outside 1-65535: %w", id, port, ErrInvalid)
	}
	row := s.write.QueryRowContext(ctx, `UPDATE vm
		SET guest_ip = $2,
		    guest_port = CASE WHEN $3 = 0 THEN guest_port ELSE $3 END,
		    updated_ms = $4
		WHERE id = $1
		RETURNING `+vmColumns,
		id, nullString(ip), port, s.nowMs())
	vm, err := scanVM(row)
	if errors.Is(err, sql.ErrNoRows) {
		return VM{}, fmt.Errorf("vm %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return VM{}, s.fail(fmt.Sprintf("updating guest ip of vm %q", id), err)
	}
	return vm, nil
}

// SetLabels implements Store.
func (s *sqlStore) SetLabels(ctx context.Context, id string, set labels.Set) (VM, error) {
	if err := set.Check(); err != nil {
		return VM{}, fmt.Errorf("vm %q: %s: %w", id, err.Error(), ErrInvalid)
	}
	row := s.write.QueryRowContext(ctx, `UPDATE vm SET labels = $2, updated_ms = $3 WHERE id = $1
		RETURNING `+vmColumns, id, nullString(set.Encode()), s.nowMs())
	vm, err := scanVM(row)
	if errors.Is(err, sql.ErrNoRows) {
		return VM{}, fmt.Errorf("vm %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return VM{}, s.fail(fmt.Sprintf("setting the labels of vm %q", id), err)
	}
	return vm, nil
}

// SetLauncherLabels implements Store: one statement a VM, in one
// transaction (labels change seldom: at a VM's first report, or when its
// launcher rewrites the file).
func (s *sqlStore) SetLauncherLabels(ctx context.Context, byID map[string]labels.Set) error {
	for id, set := range byID {
		if err := set.Check(); err != nil {
			return fmt.Errorf("vm %q: launcher %s: %w", id, err.Error(), ErrInvalid)
		}
	}
	now := s.nowMs()
	return s.inTx(ctx, fmt.Sprintf("setting the launcher labels of %d vms", len(byID)), func(tx *sql.Tx) error {
		for _, id := range slices.Sorted(maps.Keys(byID)) { // one lock order for every writer
			if _, err := tx.ExecContext(ctx, `UPDATE vm SET launcher_labels = $2, updated_ms = $3 WHERE id = $1`,
				id, nullString(byID[id].Encode()), now); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteVM implements Store. The rollups go through ON DELETE CASCADE,
// within the same statement and so the same transaction.
func (s *sqlStore) DeleteVM(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM vm WHERE id = $1`, id)
	if err != nil {
		return s.fail(fmt.Sprintf("deleting vm %q", id), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(fmt.Sprintf("deleting vm %q", id), err)
	}
	if n == 0 {
		return fmt.Errorf("vm %q: %w", id, ErrNotFound)
	}
	return nil
}

// checkVM refuses what the schema's constraints would refuse, with a
// message that says which field was wrong.
func checkVM(vm VM) error {
	switch {
	case vm.ID == "":
		return fmt.Errorf("vm id is empty: %w", ErrInvalid)
	case vm.Name == "":
		return fmt.Errorf("vm %q: name is empty: %w", vm.ID, ErrInvalid)
	case vm.GuestPort < 1 || vm.GuestPort > 65535:
		return fmt.Errorf("vm %q: guest_port %d is outside 1-65535: %w", vm.ID, vm.GuestPort, ErrInvalid)
	case vm.VMMPID < 0:
		return fmt.Errorf("vm %q: vmm_pid %d is negative: %w", vm.ID, vm.VMMPID, ErrInvalid)
	case (vm.HostID == "") != (vm.HostVMID == ""):
		return fmt.Errorf("vm %q: host_id and host_vm_id go together: %w", vm.ID, ErrInvalid)
	}
	for _, set := range []labels.Set{vm.Labels, vm.LauncherLabels} {
		if err := set.Check(); err != nil {
			return fmt.Errorf("vm %q: %s: %w", vm.ID, err.Error(), ErrInvalid)
		}
	}
	return nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

// scanVM reads one row of vmColumns.
func scanVM(r scanner) (VM, error) {
	var (
		vm                                               VM
		guestIP, agentURL, fifo, apiSock, host, hostVMID sql.NullString
		set, launcher                                    sql.NullString
		pid, gone                                        sql.NullInt64
	)
	err := r.Scan(&vm.ID, &vm.Name, &guestIP, &vm.GuestPort, &agentURL, &pid,
		&fifo, &apiSock, &vm.CreatedMs, &vm.UpdatedMs, &host, &hostVMID, &gone, &set, &launcher)
	if err != nil {
		return vm, err
	}
	vm.GuestIP, vm.HostAgentURL = guestIP.String, agentURL.String
	vm.MetricsFIFO, vm.APISocket = fifo.String, apiSock.String
	vm.VMMPID = int(pid.Int64)
	vm.HostID, vm.HostVMID, vm.GoneMs = host.String, hostVMID.String, gone.Int64
	if vm.Labels, err = labels.Decode(set.String); err != nil {
		return vm, err
	}
	if vm.LauncherLabels, err = labels.Decode(launcher.String); err != nil {
		return vm, err
	}
	vm.MergeLabels()
	return vm, nil
}

// nullString stores "" as NULL.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// nullInt64 stores 0 as NULL.
func nullInt64(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n != 0} }

// nullInt stores 0 as NULL.
func nullInt(n int) sql.NullInt64 { return sql.NullInt64{Int64: int64(n), Valid: n != 0} }
