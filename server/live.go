package server

import "github.com/labstack/echo/v4"

// installLive registers the live channels (WebSocket), fleet and telemetry routes and workers.
func (s *Server) installLive(e *echo.Echo, g routes) {}
