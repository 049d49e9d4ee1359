package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

func (s *Server) authRoutes(g routes) {
	g.POST("/auth/pak", s.verifyPAK)
	g.GET("/paks", s.listPAKs)
}

// verifyPAK answers who the caller is.
func (s *Server) verifyPAK(c echo.Context) error {
	id := identity(c)
	resp := client.AuthResponse{Admin: id.Admin, ReadOnly: id.ReadOnly}
	if id.IsAgent() {
		a := id.AgentID
		resp.Agent = &a
	}
	if id.IsGenerator() {
		g := id.GeneratorID
		resp.Generator = &g
	}
	return reply(c, http.StatusOK, resp)
}

func (s *Server) listPAKs(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	rows, err := db.ListPAKs(c.Request().Context(), s.db)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, func(r db.PAKSummary) client.PakSummary {
		return client.PakSummary{ID: r.ID, Name: r.Name}
	}))
}
