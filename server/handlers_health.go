package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

// installHealth registers its routes, workers and event hooks.
func (s *Server) installHealth(g routes) {
	g.PATCH("/agents/:id/health-status", s.updateHealthStatus)
	g.GET("/deployment-objects/:id/health", s.getDeploymentHealth)
	g.GET("/stacks/:id/health", s.getStackHealth)
}

func toDeploymentHealth(h db.DeploymentHealth) client.DeploymentHealth {
	return client.DeploymentHealth{
		ID: h.ID, AgentID: h.AgentID, DeploymentObjectID: h.DeploymentObjectID, Status: h.Status,
		Summary: h.Summary, CheckedAt: utc(h.CheckedAt), CreatedAt: utc(h.CreatedAt), UpdatedAt: utc(h.UpdatedAt),
	}
}

// healthRank orders health states from best to worst; unknown ranks lowest, so it only
// wins when nothing else was reported.
var healthRank = map[string]int{db.HealthUnknown: 0, db.HealthHealthy: 1, db.HealthDegraded: 2, db.HealthFailing: 3}

// worstHealth returns the worst of the states: failing > degraded > healthy > unknown
// (unknown when there are none).
func worstHealth(states ...string) string {
	worst := db.HealthUnknown
	for _, s := range states {
		if healthRank[s] > healthRank[worst] {
			worst = s
		}
	}
	return worst
}

// Request shapes of PATCH /agents/{id}/health-status: pointers tell absent fields apart.
type (
	healthReport struct {
		DeploymentObjects *[]healthItem `json:"deployment_objects"`
	}
	healthItem struct {
		ID        *uuid.UUID     `json:"id"`
		Status    *string        `json:"status"`
		Summary   *healthSummary `json:"summary"`
		CheckedAt *time.Time     `json:"checked_at"`
	}
	healthSummary struct {
		PodsReady  *int32            `json:"pods_ready"`
		PodsTotal  *int32            `json:"pods_total"`
		Conditions *[]string         `json:"conditions"`
		Resources  *[]resourceHealth `json:"resources"`
	}
	resourceHealth struct {
		Kind      *string `json:"kind"`
		Name      *string `json:"name"`
		Namespace *string `json:"namespace"`
		Ready     *bool   `json:"ready"`
		Message   *string `json:"message"`
	}
)

// summaryJSON checks a reported summary's required fields and re-serialises it in its
// canonical form (resources and message omitted when null).
func summaryJSON(at string, in *healthSummary) (*string, error) {
	if in == nil {
		return nil, nil
	}
	if err := requireFields(field{at + ".pods_ready", in.PodsReady != nil}, field{at + ".pods_total", in.PodsTotal != nil},
		field{at + ".conditions", in.Conditions != nil}); err != nil {
		return nil, err
	}
	out := client.HealthSummary{PodsReady: *in.PodsReady, PodsTotal: *in.PodsTotal, Conditions: *in.Conditions}
	if in.Resources != nil {
		out.Resources = make([]client.ResourceHealth, len(*in.Resources))
		for i, r := range *in.Resources {
			rat := fmt.Sprintf("%s.resources[%d]", at, i)
			if err := requireFields(field{rat + ".kind", r.Kind != nil}, field{rat + ".name", r.Name != nil},
				field{rat + ".namespace", r.Namespace != nil}, field{rat + ".ready", r.Ready != nil}); err != nil {
				return nil, err
			}
			out.Resources[i] = client.ResourceHealth{Kind: *r.Kind, Name: *r.Name, Namespace: *r.Namespace, Ready: *r.Ready, Message: r.Message}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode health summary: %w", err)
	}
	return ptr(string(b)), nil
}

func (s *Server) updateHealthStatus(c echo.Context) error {
	agentID, err := selfAgent(c, "id")
	if err != nil {
		return err
	}
	var body healthReport
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"deployment_objects", body.DeploymentObjects != nil}); err != nil {
		return err
	}
	items := *body.DeploymentObjects
	updates := make([]db.HealthUpdate, len(items))
	for i, it := range items {
		at := fmt.Sprintf("deployment_objects[%d]", i)
		if err := requireFields(field{at + ".id", it.ID != nil}, field{at + ".status", it.Status != nil},
			field{at + ".checked_at", it.CheckedAt != nil}); err != nil {
			return err
		}
		summary, err := summaryJSON(at+".summary", it.Summary)
		if err != nil {
			return err
		}
		updates[i] = db.HealthUpdate{DeploymentObjectID: *it.ID, Status: *it.Status, Summary: summary, CheckedAt: *it.CheckedAt}
	}
	for i, u := range updates {
		if !db.ValidHealthStatus(u.Status) {
			return apiError(http.StatusUnprocessableEntity, "invalid_health_record",
				fmt.Sprintf("deployment_objects[%d].status %q is not one of healthy, degraded, failing, unknown", i, u.Status)).
				with("field", fmt.Sprintf("deployment_objects[%d].status", i))
		}
	}
	if err := db.UpsertHealth(c.Request().Context(), s.db, agentID, updates); err != nil {
		return err
	}
	// Health may pass a rollout's healthy gate or halt it: step the rollouts concerned now.
	objects := make([]uuid.UUID, len(updates))
	for i, u := range updates {
		objects[i] = u.DeploymentObjectID
	}
	s.rollouts.Kick(c.Request().Context(), objects)
	return c.NoContent(http.StatusOK)
}

func (s *Server) getDeploymentHealth(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	rows, err := db.ListObjectHealth(c.Request().Context(), s.db, id)
	if err != nil {
		return err
	}
	states := make([]string, len(rows))
	for i, r := range rows {
		states[i] = r.Status
	}
	return reply(c, http.StatusOK, client.DeploymentHealthResponse{
		DeploymentObjectID: id, HealthRecords: mapSlice(rows, toDeploymentHealth), OverallStatus: worstHealth(states...),
	})
}

func (s *Server) getStackHealth(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	rows, err := db.StackHealthCounts(c.Request().Context(), s.db, id)
	if err != nil {
		return err
	}
	objects := make([]client.DeploymentObjectHealthSummary, len(rows))
	states := make([]string, len(rows))
	for i, r := range rows {
		var present []string
		for state, n := range map[string]int64{db.HealthHealthy: r.Healthy, db.HealthDegraded: r.Degraded, db.HealthFailing: r.Failing} {
			if n > 0 {
				present = append(present, state)
			}
		}
		states[i] = worstHealth(present...)
		objects[i] = client.DeploymentObjectHealthSummary{
			ID: r.DeploymentObjectID, Status: states[i], HealthyAgents: r.Healthy, DegradedAgents: r.Degraded, FailingAgents: r.Failing,
		}
	}
	return reply(c, http.StatusOK, client.StackHealthResponse{StackID: id, OverallStatus: worstHealth(states...), DeploymentObjects: objects})
}
