package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

// driftRoutes serves what agents need to know of their stacks' drift policies and
// dependencies, and the drift and dependencies they report.
func (s *Server) driftRoutes(g routes) {
	g.GET("/agents/:id/stack-settings", s.agentStackSettings)
	g.GET("/stacks/:id/drift", s.stackDrift)
	g.GET("/stacks/:id/dependencies", s.stackDependencies)
}

// stackGraph is the live stacks of some generators with their settings annotations.
type stackGraph struct {
	rows   []db.StackSettingsRow
	byID   map[uuid.UUID]int
	byName map[uuid.UUID]map[string]int // generator → name → row (the first by id)
}

func (s *Server) loadStackGraph(ctx context.Context, q db.Queryer, generators []uuid.UUID) (stackGraph, error) {
	rows, err := db.GeneratorStackSettings(ctx, q, generators, client.AnnotationDependsOn, client.AnnotationDriftPolicy)
	if err != nil {
		return stackGraph{}, err
	}
	g := stackGraph{rows: rows, byID: map[uuid.UUID]int{}, byName: map[uuid.UUID]map[string]int{}}
	for i, r := range rows {
		g.byID[r.ID] = i
		names := g.byName[r.GeneratorID]
		if names == nil {
			names = map[string]int{}
			g.byName[r.GeneratorID] = names
		}
		if _, ok := names[r.Name]; !ok {
			names[r.Name] = i
		}
	}
	return g, nil
}

// resolve turns a depends-on annotation value of a stack of generator gen into stack rows;
// entries naming no live stack of that generator are returned apart.
func (g stackGraph) resolve(gen uuid.UUID, value string) (deps []int, unknown []string) {
	seen := map[int]bool{}
	for _, entry := range strings.Split(value, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		i, ok := -1, false
		if id, err := uuid.Parse(entry); err == nil {
			if i, ok = g.byID[id]; ok && g.rows[i].GeneratorID != gen {
				ok = false
			}
		}
		if !ok {
			i, ok = g.byName[gen][entry]
		}
		if !ok {
			unknown = append(unknown, entry)
			continue
		}
		if !seen[i] {
			seen[i] = true
			deps = append(deps, i)
		}
	}
	return deps, unknown
}

func (g stackGraph) dependsOn(i int) []int {
	r := g.rows[i]
	if r.DependsOn == nil {
		return nil
	}
	deps, _ := g.resolve(r.GeneratorID, *r.DependsOn)
	return deps
}

// cycle returns the names along a dependency path from start back to start when start's
// dependencies are deps, or nil.
func (g stackGraph) cycle(start int, deps []int) []string {
	visited := map[int]bool{}
	var path []int
	var walk func(i int) bool
	walk = func(i int) bool {
		if i == start {
			return true
		}
		if visited[i] {
			return false
		}
		visited[i] = true
		path = append(path, i)
		for _, d := range g.dependsOn(i) {
			if walk(d) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	for _, d := range deps {
		path = path[:0]
		if walk(d) {
			names := []string{g.rows[start].Name}
			for _, i := range path {
				names = append(names, g.rows[i].Name)
			}
			return append(names, g.rows[start].Name)
		}
	}
	return nil
}

// driftPolicy reads a drift-policy annotation value; anything but a known policy is report.
func driftPolicy(v *string) string {
	if v != nil {
		switch p := strings.TrimSpace(*v); p {
		case client.DriftPolicyReport, client.DriftPolicyCorrect, client.DriftPolicyIgnore:
			return p
		}
	}
	return client.DriftPolicyReport
}

// checkSettingsAnnotation refuses a drift-policy annotation naming no policy and a
// depends-on annotation naming an unknown stack or closing a cycle.
func (s *Server) checkSettingsAnnotation(ctx context.Context, st db.Stack, key, value string) error {
	switch key {
	case client.AnnotationDriftPolicy:
		if p := strings.TrimSpace(value); p != client.DriftPolicyReport && p != client.DriftPolicyCorrect && p != client.DriftPolicyIgnore {
			return badRequest("invalid_drift_policy", "brokkr.io/drift-policy must be one of report, correct, ignore").with("value", value)
		}
	case client.AnnotationDependsOn:
		g, err := s.loadStackGraph(ctx, s.db, []uuid.UUID{st.GeneratorID})
		if err != nil {
			return err
		}
		deps, unknown := g.resolve(st.GeneratorID, value)
		if len(unknown) > 0 {
			return badRequest("unknown_dependency", "brokkr.io/depends-on names stacks this generator does not have").with("unknown", unknown)
		}
		if c := g.cycle(g.byID[st.ID], deps); c != nil {
			return badRequest("dependency_cycle", "brokkr.io/depends-on would make stacks depend on themselves").with("cycle", c)
		}
	}
	return nil
}

func (s *Server) agentStackSettings(c echo.Context) error {
	id, err := s.agentForRead(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	stacks, err := db.AssociatedStacks(ctx, s.db, id)
	if err != nil {
		return err
	}
	out := make([]client.StackSettings, 0, len(stacks))
	if len(stacks) == 0 {
		return reply(c, http.StatusOK, out)
	}
	var gens []uuid.UUID
	for _, st := range stacks {
		gens = append(gens, st.GeneratorID)
	}
	g, err := s.loadStackGraph(ctx, s.db, gens)
	if err != nil {
		return err
	}
	for _, st := range stacks {
		i, ok := g.byID[st.ID]
		if !ok {
			continue // deleted since
		}
		set := client.StackSettings{StackID: st.ID, StackName: st.Name, DriftPolicy: driftPolicy(g.rows[i].DriftPolicy), DependsOn: []uuid.UUID{}}
		for _, d := range g.dependsOn(i) {
			set.DependsOn = append(set.DependsOn, g.rows[d].ID)
		}
		out = append(out, set)
	}
	return reply(c, http.StatusOK, out)
}

func (s *Server) stackDrift(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	rows, err := db.LatestStackEvents(c.Request().Context(), s.db, st.ID, client.EventTypeDrift)
	if err != nil {
		return err
	}
	out := []client.StackDrift{}
	for _, r := range rows {
		if strings.EqualFold(r.Status, client.DriftCleared) {
			continue
		}
		rep := decodeMessage[client.DriftReport](r.Message)
		if rep.Objects == nil {
			rep.Objects = []client.DriftedObject{}
		}
		out = append(out, client.StackDrift{AgentID: r.AgentID, AgentName: r.AgentName, DeploymentObjectID: r.DeploymentObjectID,
			Status: r.Status, Objects: rep.Objects, ReportedAt: utc(r.CreatedAt)})
	}
	return reply(c, http.StatusOK, out)
}

func (s *Server) stackDependencies(c echo.Context) error {
	st, err := s.ownedStack(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	g, err := s.loadStackGraph(ctx, s.db, []uuid.UUID{st.GeneratorID})
	if err != nil {
		return err
	}
	out := client.StackDependencies{DependsOn: []client.StackRef{}, Waiting: []client.WaitingAgent{}}
	if i, ok := g.byID[st.ID]; ok {
		for _, d := range g.dependsOn(i) {
			out.DependsOn = append(out.DependsOn, client.StackRef{ID: g.rows[d].ID, Name: g.rows[d].Name})
		}
	}
	rows, err := db.LatestStackEvents(ctx, s.db, st.ID, client.EventTypeDependency)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.DeployedSince || !strings.EqualFold(r.Status, client.DependencyWaiting) {
			continue
		}
		rep := decodeMessage[client.DependencyReport](r.Message)
		if rep.WaitingFor == nil {
			rep.WaitingFor = []client.DependencyWait{}
		}
		out.Waiting = append(out.Waiting, client.WaitingAgent{AgentID: r.AgentID, AgentName: r.AgentName,
			WaitingFor: rep.WaitingFor, Since: utc(r.CreatedAt)})
	}
	return reply(c, http.StatusOK, out)
}

// decodeMessage reads the JSON report of an agent event's message; a message that is no
// report reads as an empty one.
func decodeMessage[T any](msg *string) T {
	var rep T
	if msg != nil {
		_ = json.Unmarshal([]byte(*msg), &rep)
	}
	return rep
}
