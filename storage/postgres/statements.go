package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage"
)

// A table is one whose rows are written whole: its SELECT, INSERT and
// UPDATE statements are derived from one column list (the key first), the
// list its args function follows and its scan function reads, so that a
// column added to one cannot be missing from another.
type table[T any] struct {
	what                       string // the record's name in errors
	selectByID, insert, update string
	args                       func(T) ([]any, error)
	scan                       func(pgx.Row) (T, error)
}

func newTable[T any](what, name, columns string, args func(T) ([]any, error), scan func(pgx.Row) (T, error)) table[T] {
	return table[T]{
		what:       what,
		selectByID: "SELECT " + columns + " FROM " + name + " WHERE " + columnNames(columns)[0] + " = $1",
		insert:     insertSQL(name, columns),
		update:     updateSQL(name, columns),
		args:       args,
		scan:       scan,
	}
}

var (
	clientTable    = newTable("client", "clients", clientColumns, clientArgs, scanClient)
	userTable      = newTable("user", "users", userColumns, func(u storage.User) ([]any, error) { return userArgs(u), nil }, scanUser)
	issuerTable    = newTable("trusted issuer", "trusted_issuers", issuerColumns, issuerArgs, scanIssuer)
	connectorTable = newTable("connector", "connectors", connectorColumns, connectorArgs, scanConnector)
	insertLink     = insertSQL("identity_links", linkColumns)
)

// get reads the row with key id.
func (t table[T]) get(ctx context.Context, s *Store, id string) (T, error) {
	return getOne(ctx, s, fmt.Sprintf("get %s %q", t.what, id), t.selectByID, t.scan, id)
}

// create inserts v, whose key is id.
func (t table[T]) create(ctx context.Context, s *Store, id string, v T) error {
	op := fmt.Sprintf("create %s %q", t.what, id)
	args, err := t.args(v)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	if _, err := q.Exec(ctx, t.insert, args...); err != nil {
		return s.wrap(err, op)
	}
	return nil
}

// change applies fn to the row with key id, locked (updateLocked), and
// writes every column back; fn cannot change the key.
func (t table[T]) change(ctx context.Context, s *Store, id string, fn func(T) (T, error)) error {
	return updateLocked(ctx, s, fmt.Sprintf("update %s %q", t.what, id), t.selectByID, id, t.scan, fn,
		func(tx pgx.Tx, v T) error {
			args, err := t.args(v)
			if err != nil {
				return err
			}
			args[0] = id
			_, err = tx.Exec(ctx, t.update, args...)
			return err
		})
}

// insertSQL is "INSERT INTO table (columns) VALUES ($1, ..., $n)".
func insertSQL(table, columns string) string {
	names := columnNames(columns)
	ph := make([]string, len(names))
	for i := range names {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	return "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
}

// updateSQL is "UPDATE table SET c2 = $2, ..., cn = $n WHERE c1 = $1": the
// first column is the key, and every other column is written.
func updateSQL(table, columns string) string {
	names := columnNames(columns)
	set := make([]string, 0, len(names)-1)
	for i, c := range names[1:] {
		set = append(set, c+" = $"+strconv.Itoa(i+2))
	}
	return "UPDATE " + table + " SET " + strings.Join(set, ", ") + " WHERE " + names[0] + " = $1"
}

func columnNames(columns string) []string {
	names := strings.Split(columns, ",")
	for i, c := range names {
		names[i] = strings.TrimSpace(c)
	}
	return names
}

// encodeRoleMap is a role map as its NOT NULL jsonb column holds it: {}
// when empty.
func encodeRoleMap(m map[string]string) ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(m)
}

// decodeRoleMap reads a role map column back; an empty map is nil, as the
// stores hand it out.
func decodeRoleMap(b []byte) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}
