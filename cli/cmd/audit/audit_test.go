package audit

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

func TestNewCmdList(t *testing.T) {
	actor := uuid.MustParse("5b0e6f9e-8a0c-4d52-a1f4-3a1c2b7d9e10")
	res := uuid.MustParse("9d2c4b1e-0b6d-4f3c-8a55-1d2f3a4b5c6d")
	at := time.Date(2026, 1, 1, 8, 30, 0, 0, time.UTC)
	cmdtest.RunTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []cmdtest.FlagCase[ListOptions]{
		{Name: "defaults", Want: ListOptions{Format: output.FormatTable}},
		{Name: "every filter", Args: []string{"--actor-type", "generator", "--actor-id", actor.String(), "--action", "stack.*",
			"--resource-type", "agent", "--resource-id", res.String(), "--limit", "20", "--offset", "40", "-o", "wide"},
			Want: ListOptions{Format: output.FormatWide, Query: client.AuditLogOptions{ActorType: "generator", ActorID: &actor, Action: "stack.*",
				ResourceType: "agent", ResourceID: &res, Limit: 20, Offset: 40}}},
		{Name: "since duration, until time", Args: []string{"--since", "24h", "--until", "2026-01-01T08:30:00Z"},
			Want: ListOptions{Format: output.FormatTable, Query: client.AuditLogOptions{From: cmdtest.Now.Add(-24 * time.Hour), To: at}}},
		{Name: "aliases from/to", Args: []string{"--from", "2026-01-01T08:30:00Z", "--to", "30m"},
			Want: ListOptions{Format: output.FormatTable, Query: client.AuditLogOptions{From: at, To: cmdtest.Now.Add(-30 * time.Minute)}}},
		{Name: "negative duration counts back", Args: []string{"--since", "-1h"},
			Want: ListOptions{Format: output.FormatTable, Query: client.AuditLogOptions{From: cmdtest.Now.Add(-time.Hour)}}},
		{Name: "bad since", Args: []string{"--since", "yesterday"}, WantErr: true},
		{Name: "bad until", Args: []string{"--until", "2026-13-01"}, WantErr: true},
		{Name: "bad actor id", Args: []string{"--actor-id", "admin"}, WantErr: true},
		{Name: "bad resource id", Args: []string{"--resource-id", "x"}, WantErr: true},
		{Name: "limit too big", Args: []string{"--limit", "1001"}, WantErr: true},
		{Name: "negative offset", Args: []string{"--offset", "-1"}, WantErr: true},
		{Name: "bad format", Args: []string{"-o", "csv"}, WantErr: true},
		{Name: "extra argument", Args: []string{"x"}, WantErr: true},
	})
}
