package server

import (
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/server/live"
)

// installLive registers the live channels (WebSocket), the fleet routes and their workers.
func (s *Server) installLive(e *echo.Echo, g routes) {
	s.live = live.New(live.Options{DB: s.db, Logger: s.log, Registry: s.metrics.registry,
		RecordAgentEvent: s.recordAgentEvent, Heartbeats: s.heartbeats})
	e.GET("/internal/ws/agent", s.agentSocket)
	// The consumer channels authenticate themselves: browsers can only offer the PAK as a
	// subprotocol, which the API middleware does not read.
	e.GET(apiPrefix+"/stacks/:id/live", s.stackLiveSocket)
	e.GET(apiPrefix+"/fleet/live", s.fleetLiveSocket)

	g.GET("/fleet", s.listFleet)
	g.GET("/agents/:id/fleet-status", s.agentFleetStatus)
	g.GET("/admin/ws/connections", s.listWSConnections)

	s.workers.Add(s.live.Workers()...)
	s.bus.Subscribe(s.live.OnEvent)
}
