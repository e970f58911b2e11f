package postgres

import (
	"strconv"
	"strings"
)

// The statements that write a whole row are derived from the table's
// column list (clientColumns, ...), the same list its SELECT reads and its
// args function follows, so that a column added to one cannot be missing
// from another.
var (
	insertClient    = insertSQL("clients", clientColumns)
	updateClient    = updateSQL("clients", clientColumns)
	insertUser      = insertSQL("users", userColumns)
	updateUser      = updateSQL("users", userColumns)
	insertIssuer    = insertSQL("trusted_issuers", issuerColumns)
	updateIssuer    = updateSQL("trusted_issuers", issuerColumns)
	insertConnector = insertSQL("connectors", connectorColumns)
	updateConnector = updateSQL("connectors", connectorColumns)
	insertLink      = insertSQL("identity_links", linkColumns)
)

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
