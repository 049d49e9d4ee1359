package server

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

// recentEventsLimit caps the events of GET /agents/{id}/fleet-status.
const recentEventsLimit = 20

func (s *Server) listFleet(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	gen, err := uuidQuery(c, "pak_id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.heartbeats.Flush(ctx); err != nil { // heartbeat ages are computed by the database
		return err
	}
	records, err := s.live.FleetRecords(ctx, db.FleetFilter{GeneratorID: gen})
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, records)
}

func (s *Server) agentFleetStatus(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.heartbeats.Flush(ctx); err != nil {
		return err
	}
	records, err := s.live.FleetRecords(ctx, db.FleetFilter{AgentIDs: []uuid.UUID{id}})
	if err != nil {
		return err
	}
	if len(records) == 0 {
		return errAgentNotFound
	}
	events, err := db.RecentAgentEvents(ctx, s.db, id, recentEventsLimit)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, client.AgentFleetStatus{Record: records[0], RecentEvents: mapSlice(events, toAgentEvent)})
}

// listWSConnections is GET /admin/ws/connections: this replica's agent connections.
func (s *Server) listWSConnections(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	return reply(c, http.StatusOK, s.live.Connections())
}
