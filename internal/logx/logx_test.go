package logx

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestAttributesUseTheSharedKeys(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	id := uuid.MustParse("00000000-0000-0000-0000-000000000001")
	log.Info("m", Err(errors.New("boom")), AgentID(id), StackID(id), DeploymentObjectID(id),
		WorkOrderID(id), GeneratorID(id), DeliveryID(id))
	for _, want := range []string{"error=boom", "agent_id=" + id.String(), "stack_id=" + id.String(),
		"deployment_object_id=" + id.String(), "work_order_id=" + id.String(), "generator_id=" + id.String(),
		"delivery_id=" + id.String()} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("record %q lacks %q", buf.String(), want)
		}
	}
}

func TestOrDiscard(t *testing.T) {
	if l := OrDiscard(nil); l == nil || l.Enabled(t.Context(), slog.LevelError) {
		t.Fatal("OrDiscard(nil) must be a logger that records nothing")
	}
	l := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	if OrDiscard(l) != l {
		t.Fatal("OrDiscard must return a logger it is given")
	}
}
