package db

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// schemaNamePattern is the set of schema names the broker accepts: a plain
// lower-case PostgreSQL identifier that never needs quoting.
var schemaNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ValidateSchemaName reports whether s can be used as the database schema
// that holds the broker's tables. The empty string is valid and means the
// connection's default schema (normally public). Any other name must start
// with a lower-case letter or underscore, continue with lower-case letters,
// digits or underscores, be at most 63 characters long, and must not start
// with the reserved prefix "pg_".
func ValidateSchemaName(s string) error {
	if s == "" {
		return nil
	}
	if !schemaNamePattern.MatchString(s) {
		return fmt.Errorf("invalid schema name %q: use 1 to 63 characters of a-z, 0-9 and _, not starting with a digit", s)
	}
	if strings.HasPrefix(s, "pg_") {
		return fmt.Errorf("invalid schema name %q: the pg_ prefix is reserved by PostgreSQL", s)
	}
	return nil
}

// QuoteIdent returns s quoted as a PostgreSQL identifier, safe to splice into
// SQL text (for example a schema name in CREATE SCHEMA).
func QuoteIdent(s string) string {
	return pgx.Identifier{s}.Sanitize()
}
