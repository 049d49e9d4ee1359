package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/webhooks"
)

// int64Query parses an optional non-negative integer query parameter.
func int64Query(c echo.Context, name string, def int64) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("invalid_parameter", fmt.Sprintf("query parameter %s must be a non-negative integer", name)).
			with("parameter", name)
	}
	return n, nil
}

func (s *Server) listWebhookDeliveries(c echo.Context) error {
	sub, err := s.webhookSubscription(c)
	if err != nil {
		return err
	}
	limit, err := int64Query(c, "limit", 50)
	if err != nil {
		return err
	}
	limit = min(limit, maxDeliveriesLimit)
	offset, err := int64Query(c, "offset", 0)
	if err != nil {
		return err
	}
	var status *string
	if v := c.QueryParam("status"); v != "" {
		status = &v
	}
	rows, err := db.ListWebhookDeliveries(c.Request().Context(), s.db, sub.ID, status, limit, offset)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toWebhookDelivery))
}

func (s *Server) testWebhook(c echo.Context) error {
	sub, err := s.webhookSubscription(c)
	if err != nil {
		return err
	}
	res, err := s.webhooks.SendTest(c.Request().Context(), sub)
	if err != nil {
		return err
	}
	switch {
	case res.Err != nil:
		return badRequest("webhook_test_failed", "request failed: "+res.Err.Error())
	case res.Status < 200 || res.Status > 299:
		return badRequest("webhook_test_failed", fmt.Sprintf("endpoint returned HTTP %d", res.Status)).
			with("status_code", res.Status).with("body", res.Body)
	}
	return reply(c, http.StatusOK, client.WebhookTestResponse{
		Success: true, StatusCode: int32(res.Status), Message: "Test delivery successful",
	})
}

func (s *Server) pendingWebhookDeliveries(c echo.Context) error {
	agentID, err := selfAgent(c, "agent_id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := db.GetAgent(ctx, s.db, agentID); err != nil {
		return agentNotFound(err)
	}
	out, err := s.webhooks.ClaimForAgent(ctx, agentID)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, out)
}

var errDeliveryNotFound = notFound("delivery_not_found", "delivery not found")

func (s *Server) reportWebhookResult(c echo.Context) error {
	who := identity(c)
	if !who.IsAgent() {
		return forbidden("agent_pak_required", "agent authentication required")
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	var body struct {
		Success    *bool   `json:"success"`
		StatusCode *int32  `json:"status_code"`
		Error      *string `json:"error"`
		DurationMs *int64  `json:"duration_ms"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"success", body.Success != nil}); err != nil {
		return err
	}
	ctx := c.Request().Context()
	d, err := db.GetWebhookDelivery(ctx, s.db, id)
	if err != nil {
		return orNotFound(err, errDeliveryNotFound)
	}
	errNotOurs := forbidden("delivery_not_acquired_by_agent", "delivery not acquired by this agent")
	if d.AcquiredBy == nil || *d.AcquiredBy != who.AgentID || d.Status != db.DeliveryAcquired {
		return errNotOurs
	}
	sub, err := db.GetWebhookSubscription(ctx, s.db, d.SubscriptionID)
	if err != nil {
		return fmt.Errorf("subscription of delivery %s: %w", d.ID, err)
	}
	claimed := db.ClaimedWebhookDelivery{WebhookDelivery: d, MaxRetries: sub.MaxRetries}
	updated, err := s.webhooks.RecordAgentResult(ctx, who.AgentID, claimed, webhooks.AgentResult{
		Success: *body.Success, StatusCode: body.StatusCode, Error: body.Error,
	})
	if err != nil {
		return orNotFound(err, errNotOurs)
	}
	if *body.Success {
		return reply(c, http.StatusOK, struct {
			Status     string    `json:"status"`
			DeliveryID uuid.UUID `json:"delivery_id"`
		}{db.DeliverySuccess, d.ID})
	}
	return reply(c, http.StatusOK, struct {
		Status      string     `json:"status"`
		DeliveryID  uuid.UUID  `json:"delivery_id"`
		Attempts    int32      `json:"attempts"`
		NextRetryAt *time.Time `json:"next_retry_at"`
	}{updated.Status, updated.ID, updated.Attempts, utcp(updated.NextRetryAt)})
}
