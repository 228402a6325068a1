package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

// columnsQuery lists a table's columns with their NOT NULL flag, in order.
var columnsQuery = map[string]string{
	"sqlite": `SELECT name, "notnull" <> 0 FROM pragma_table_info($1) ORDER BY cid`,
	"postgres": `SELECT column_name, is_nullable = 'NO' FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
}

// TestSchemasAlike checks that both backends' migrations produce the same
// logical schema: the same tables with the same columns, in the same order,
// equally nullable.
func TestSchemasAlike(t *testing.T) {
	schemas := map[string][]string{}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openStore(t, b.newURL(t))
			var cols []string
			for _, table := range []string{"vm", "rollup_1m", "host", "event", "schema_migrations"} {
				cols = append(cols, tableColumns(t, s, table)...)
			}
			schemas[b.name] = cols
		})
	}
	lite, pg := schemas["sqlite"], schemas["postgres"]
	if lite == nil || pg == nil {
		t.Skip("needs both backends")
	}
	if !reflect.DeepEqual(lite, pg) {
		t.Errorf("schemas differ:\nsqlite   %v\npostgres %v", lite, pg)
	}
}

// tableColumns describes table's columns as "table.column" plus " NOT NULL"
// where it applies.
func tableColumns(t *testing.T, s *sqlStore, table string) []string {
	t.Helper()
	rows, err := s.read.QueryContext(context.Background(), columnsQuery[s.dialect.name], table)
	if err != nil {
		t.Fatalf("columns of %s: %v", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var name string
		var notNull bool
		if err := rows.Scan(&name, &notNull); err != nil {
			t.Fatal(err)
		}
		col := fmt.Sprintf("%s.%s", table, name)
		if notNull {
			col += " NOT NULL"
		}
		cols = append(cols, col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cols) == 0 {
		t.Fatalf("table %s has no columns", table)
	}
	return cols
}
