package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/window"
	"github.com/brokkr/brokkr/server/audit"
)

// Apply windows: recurring windows in which the agents they select may (allow) or may not
// (deny) receive new deployment objects. The admin creates, lists and deletes them (read-only
// keys list them); every answer says whether the window is open at the broker's clock and
// when it next opens and closes. Target state reads them (readWindows).

// installApplyWindows registers the apply window routes.
func (s *Server) installApplyWindows(g routes) {
	g.POST("/apply-windows", s.createApplyWindow)
	g.GET("/apply-windows", s.listApplyWindows)
	g.GET("/apply-windows/:id", s.getApplyWindow)
	g.DELETE("/apply-windows/:id", s.deleteApplyWindow)
}

// compileWindow turns a stored apply window into one that computes openings.
func compileWindow(w db.ApplyWindow) (*window.Window, error) {
	return window.New(w.ID, w.Name, w.Schedule, w.Duration, w.TimeZone, w.Kind,
		window.Selector{Labels: w.Labels, Annotations: w.Annotations}, w.StackIDs)
}

// toApplyWindow is the wire form of a stored window at now: whether it is open, when it next
// opens (after the current opening when open) and when it next closes (the end of the next
// opening when closed); nil when not within window.Horizon.
func toApplyWindow(w db.ApplyWindow, now time.Time) client.ApplyWindow {
	out := client.ApplyWindow{
		ID: w.ID, Name: w.Name, Description: w.Description, Schedule: w.Schedule, Duration: w.Duration.String(),
		TimeZone: w.TimeZone, Kind: w.Kind, Selector: client.Selector{Labels: w.Labels, Annotations: w.Annotations},
		StackIDs: w.StackIDs, CreatedAt: utc(w.CreatedAt), UpdatedAt: utc(w.UpdatedAt),
	}
	if out.StackIDs == nil {
		out.StackIDs = []uuid.UUID{}
	}
	win, err := compileWindow(w)
	if err != nil {
		return out // stored before its zone left the time zone database: no schedule to read
	}
	open, next := win.OpenAt(now)
	out.Open = open
	if next.IsZero() {
		return out
	}
	_, after := win.OpenAt(next)
	if open {
		out.NextCloseAt, out.NextOpenAt = utcTime(next), utcTime(after)
	} else {
		out.NextOpenAt, out.NextCloseAt = utcTime(next), utcTime(after)
	}
	return out
}

// utcTime is t in UTC, nil for the zero time.
func utcTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return ptr(t.UTC())
}

// invalidApplyWindow is the 400 of a window that cannot be.
func invalidApplyWindow(field, message string) *APIError {
	return badRequest("invalid_apply_window", field+": "+message).with("field", field)
}

// parseWindowDuration reads a Go duration ("4h", "90m").
func parseWindowDuration(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return 0, invalidApplyWindow("duration", "must be a duration such as 4h or 90m")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalidApplyWindow("duration", fmt.Sprintf("%q is not a duration such as 4h or 90m", s))
	}
	return d, nil
}

// createApplyWindow is POST /apply-windows (admin, not read-only). Every setting is checked
// (400 invalid_apply_window, details.field); stack_ids must name live stacks; a name already
// taken is 409 unique_violation.
func (s *Server) createApplyWindow(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	var body client.ApplyWindow
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	d, err := parseWindowDuration(body.Duration)
	if err != nil {
		return err
	}
	win, err := window.New(uuid.Nil, body.Name, body.Schedule, d, body.TimeZone, body.Kind,
		window.Selector{Labels: body.Selector.Labels, Annotations: body.Selector.Annotations}, body.StackIDs)
	var we *window.Error
	if errors.As(err, &we) {
		return invalidApplyWindow(we.Field, we.Message)
	}
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var row db.ApplyWindow
	err = s.db.InTx(ctx, func(q db.Queryer) error {
		missing, err := db.MissingStacks(ctx, q, win.Stacks)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return invalidApplyWindow("stack_ids", fmt.Sprintf("no live stack has the id %s", missing[0])).
				with("missing", missing)
		}
		row, err = db.CreateApplyWindow(ctx, q, db.ApplyWindow{
			Name: win.Name, Description: body.Description, Schedule: win.Schedule, Duration: win.Duration,
			TimeZone: win.TimeZone, Kind: win.Kind, Labels: win.Selector.Labels, Annotations: win.Selector.Annotations,
			StackIDs: win.Stacks,
		})
		return err
	})
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.ApplyWindowCreated, ResourceType: audit.ResourceApplyWindow, ResourceID: ptr(row.ID),
		Details: map[string]any{"name": row.Name, "kind": row.Kind, "schedule": row.Schedule,
			"duration": row.Duration.String(), "time_zone": row.TimeZone}})
	return reply(c, http.StatusCreated, toApplyWindow(row, s.clock()))
}

// listApplyWindows is GET /apply-windows: every window, by name (admin, read-only keys
// included).
func (s *Server) listApplyWindows(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	rows, err := db.ListApplyWindows(c.Request().Context(), s.db)
	if err != nil {
		return err
	}
	now := s.clock()
	return reply(c, http.StatusOK, mapSlice(rows, func(w db.ApplyWindow) client.ApplyWindow { return toApplyWindow(w, now) }))
}

// getApplyWindow is GET /apply-windows/{id} (admin, read-only keys included).
func (s *Server) getApplyWindow(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	w, err := db.GetApplyWindow(c.Request().Context(), s.db, id)
	if err != nil {
		return orNotFound(err, applyWindowNotFound())
	}
	return reply(c, http.StatusOK, toApplyWindow(w, s.clock()))
}

// deleteApplyWindow is DELETE /apply-windows/{id} (admin, not read-only): from then on it
// holds nothing back.
func (s *Server) deleteApplyWindow(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	w, err := db.DeleteApplyWindow(c.Request().Context(), s.db, id)
	if err != nil {
		return orNotFound(err, applyWindowNotFound())
	}
	s.audit(c, audit.Entry{Action: audit.ApplyWindowDeleted, ResourceType: audit.ResourceApplyWindow, ResourceID: ptr(w.ID),
		Details: map[string]any{"name": w.Name, "kind": w.Kind}})
	return c.NoContent(http.StatusNoContent)
}

func applyWindowNotFound() *APIError {
	return notFound("apply_window_not_found", "no apply window with this id")
}
