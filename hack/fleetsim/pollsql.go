package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/db"
)

// sqlCapture is a db.Queryer that records the statements a db function would run, with
// their arguments, instead of running them: the SQL of a poll is taken from the store's
// own functions, never copied.
type sqlCapture struct {
	db.Queryer // nil: only the two methods below are ever called
	stmts      []capturedStmt
}

type capturedStmt struct {
	query string
	args  []any
}

var errCaptured = errors.New("statement captured, not run")

func (c *sqlCapture) GetContext(_ context.Context, _ any, query string, args ...any) error {
	c.stmts = append(c.stmts, capturedStmt{query, args})
	return errCaptured
}

func (c *sqlCapture) SelectContext(_ context.Context, _ any, query string, args ...any) error {
	c.stmts = append(c.stmts, capturedStmt{query, args})
	return errCaptured
}

// pollStatements are the statements one poll of -ops target-state,heartbeat costs the broker
// in the database when nothing is cached (authentication is): the full target state and the
// heartbeat with k8s_reachable, as the simulated agents send them. agent stands for the
// polling agent's id among the arguments.
func pollStatements(agent uuid.UUID) ([]capturedStmt, error) {
	var c sqlCapture
	ctx := context.Background()
	_, _ = db.TargetState(ctx, &c, agent, false)
	_, _ = db.Heartbeat(ctx, &c, agent, true, new(true), nil)
	if len(c.stmts) != 2 {
		return nil, fmt.Errorf("a poll ran %d statements, want 2 (target state, heartbeat)", len(c.stmts))
	}
	return c.stmts, nil
}

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// pgbenchScript turns captured statements into a pgbench script: the argument equal to agent
// becomes the variable agentVar, every other argument a variable named after its statement
// and position (returned in vars with its text value, for -D), and a nil argument NULL. With
// -M prepared, pgbench sends the variables as parameters, as the broker does.
func pgbenchScript(stmts []capturedStmt, agent uuid.UUID, agentVar string) (script string, vars map[string]string, err error) {
	vars = map[string]string{}
	var b strings.Builder
	for si, st := range stmts {
		var bad error
		q := placeholder.ReplaceAllStringFunc(st.query, func(m string) string {
			n, _ := strconv.Atoi(m[1:])
			if n < 1 || n > len(st.args) {
				bad = fmt.Errorf("statement %d: %s without an argument", si+1, m)
				return m
			}
			v, isNull := argText(st.args[n-1])
			switch {
			case isNull:
				return "NULL"
			case v == agent.String():
				return ":" + agentVar
			}
			name := fmt.Sprintf("s%da%d", si+1, n)
			vars[name] = v
			return ":" + name
		})
		if bad != nil {
			return "", nil, bad
		}
		if strings.ContainsAny(q, ";\\") {
			return "", nil, fmt.Errorf("statement %d holds ';' or '\\', which a pgbench script cannot", si+1)
		}
		b.WriteString(strings.TrimSpace(q))
		b.WriteString(";\n")
	}
	return b.String(), vars, nil
}

// argText is an argument's text form, pointers followed; isNull for nil.
func argText(a any) (text string, isNull bool) {
	v := reflect.ValueOf(a)
	for v.IsValid() && v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "", true
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return "", true
	}
	return fmt.Sprint(v.Interface()), false
}
