package webhook

import (
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

var hookID = uuid.MustParse("7c1d2e3f-0b6d-4f3c-8a55-1d2f3a4b5c6d")

func sp(s string) *string { return &s }
func i32(v int32) *int32  { return &v }
func bp(v bool) *bool     { return &v }

func TestNewCmdList(t *testing.T) {
	cmdtest.RunTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []cmdtest.FlagCase[ListOptions]{
		{Name: "defaults", Want: ListOptions{Format: output.FormatTable}},
		{Name: "wide", Args: []string{"-o", "wide"}, Want: ListOptions{Format: output.FormatWide}},
		{Name: "bad format", Args: []string{"-o", "x"}, WantErr: true},
		{Name: "extra argument", Args: []string{"x"}, WantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	cmdtest.RunTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []cmdtest.FlagCase[GetOptions]{
		{Name: "yaml", Args: []string{hookID.String(), "-o", "yaml"}, Want: GetOptions{ID: hookID, Format: output.FormatYAML}},
		{Name: "not a uuid", Args: []string{"ops"}, WantErr: true},
		{Name: "missing", WantErr: true},
		{Name: "bad format", Args: []string{hookID.String(), "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdCreate(t *testing.T) {
	clear := func(o *CreateOptions) { o.Factory = nil }
	cmdtest.RunTable(t, NewCmdCreate, clear, []cmdtest.FlagCase[CreateOptions]{
		{Name: "minimal", Args: []string{"--name", "ops", "--url", "https://h.example/x", "--event", "agent.offline"},
			Want: CreateOptions{Name: "ops", URL: "https://h.example/x", Events: []string{"agent.offline"}, Format: output.FormatTable,
				Request: client.CreateWebhookRequest{Name: "ops", URL: "https://h.example/x", EventTypes: []string{"agent.offline"}}}},
		{Name: "every flag", Args: []string{"--name", "ops", "--url", "u", "--event", "a", "--event", "b", "--auth-header", "Bearer t",
			"--max-retries", "0", "--timeout", "5", "--target-label", "prod", "--target-label", "eu",
			"--agent-filter", "edge-1/prod", "--stack-filter", "web", "-o", "json"},
			Want: CreateOptions{Name: "ops", URL: "u", AuthHeader: "Bearer t", Events: []string{"a", "b"}, TargetLabels: []string{"prod", "eu"},
				Timeout: 5, Format: output.FormatJSON, filters: filterFlags{agent: "edge-1/prod", stack: "web"},
				Request: client.CreateWebhookRequest{Name: "ops", URL: "u", EventTypes: []string{"a", "b"}, AuthHeader: sp("Bearer t"),
					MaxRetries: i32(0), TimeoutSeconds: i32(5), TargetLabels: []string{"prod", "eu"}}}},
		{Name: "name as argument", Args: []string{"ops", "--url", "u", "--event", "a"},
			Want: CreateOptions{Name: "ops", URL: "u", Events: []string{"a"}, Format: output.FormatTable,
				Request: client.CreateWebhookRequest{Name: "ops", URL: "u", EventTypes: []string{"a"}}}},
		{Name: "argument and another --name", Args: []string{"ops", "--name", "dev", "--url", "u", "--event", "a"}, WantErr: true},
		{Name: "two arguments", Args: []string{"ops", "dev", "--url", "u", "--event", "a"}, WantErr: true},
		{Name: "no name", Args: []string{"--url", "u", "--event", "a"}, WantErr: true},
		{Name: "no url", Args: []string{"--name", "n", "--event", "a"}, WantErr: true},
		{Name: "no event", Args: []string{"--name", "n", "--url", "u"}, WantErr: true},
		{Name: "bad retries", Args: []string{"--name", "n", "--url", "u", "--event", "a", "--max-retries", "many"}, WantErr: true},
		{Name: "bad format", Args: []string{"--name", "n", "--url", "u", "--event", "a", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	id := hookID.String()
	labels := []string{"prod"}
	var none []string
	base := func(r client.UpdateWebhookRequest) UpdateOptions {
		return UpdateOptions{ID: hookID, Request: r, Format: output.FormatTable}
	}
	cmdtest.RunTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []cmdtest.FlagCase[UpdateOptions]{
		{Name: "disable", Args: []string{id, "--disable"}, Want: base(client.UpdateWebhookRequest{Enabled: bp(false)})},
		{Name: "enable", Args: []string{id, "--enable"}, Want: base(client.UpdateWebhookRequest{Enabled: bp(true)})},
		{Name: "fields", Args: []string{id, "--name", "n", "--url", "u", "--auth-header", "", "--event", "*", "--event", "x",
			"--max-retries", "10", "--timeout", "3"},
			Want: base(client.UpdateWebhookRequest{Name: sp("n"), URL: sp("u"), AuthHeader: sp(""), EventTypes: []string{"*", "x"},
				MaxRetries: i32(10), TimeoutSeconds: i32(3)})},
		{Name: "target labels", Args: []string{id, "--target-label", "prod"}, Want: base(client.UpdateWebhookRequest{TargetLabels: &labels})},
		{Name: "broker delivery clears labels", Args: []string{id, "--broker-delivery"}, Want: base(client.UpdateWebhookRequest{TargetLabels: &none})},
		{Name: "filters alone are a change", Args: []string{id, "--stack-filter", "web"},
			Want: UpdateOptions{ID: hookID, Format: output.FormatTable, filters: filterFlags{stack: "web"}}},
		{Name: "broker delivery false changes nothing", Args: []string{id, "--broker-delivery=false"}, WantErr: true},
		{Name: "broker delivery false keeps labels", Args: []string{id, "--broker-delivery=false", "--target-label", "prod"},
			Want: base(client.UpdateWebhookRequest{TargetLabels: &labels})},
		{Name: "enable and disable", Args: []string{id, "--enable", "--disable"}, WantErr: true},
		{Name: "broker delivery and labels", Args: []string{id, "--broker-delivery", "--target-label", "a"}, WantErr: true},
		{Name: "nothing to change", Args: []string{id}, WantErr: true},
		{Name: "not a uuid", Args: []string{"ops", "--disable"}, WantErr: true},
		{Name: "missing", Args: []string{"--disable"}, WantErr: true},
		{Name: "bad format", Args: []string{id, "--disable", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	id := hookID.String()
	cmdtest.RunTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []cmdtest.FlagCase[DeleteOptions]{
		{Name: "yes", Args: []string{id, "--yes"}, Want: DeleteOptions{ID: hookID, Yes: true}},
		{Name: "tty asks later", TTY: true, Args: []string{id}, Want: DeleteOptions{ID: hookID}},
		{Name: "no tty needs yes", Args: []string{id}, WantErr: true},
		{Name: "not a uuid", Args: []string{"ops", "-y"}, WantErr: true},
		{Name: "missing", Args: []string{"-y"}, WantErr: true},
	})
}

func TestNewCmdTest(t *testing.T) {
	cmdtest.RunTable(t, NewCmdTest, func(o *TestOptions) { o.Factory = nil }, []cmdtest.FlagCase[TestOptions]{
		{Name: "json", Args: []string{hookID.String(), "-o", "json"}, Want: TestOptions{ID: hookID, Format: output.FormatJSON}},
		{Name: "not a uuid", Args: []string{"ops"}, WantErr: true},
		{Name: "missing", WantErr: true},
		{Name: "bad format", Args: []string{hookID.String(), "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdDeliveries(t *testing.T) {
	id := hookID.String()
	cmdtest.RunTable(t, NewCmdDeliveries, func(o *DeliveriesOptions) { o.Factory = nil }, []cmdtest.FlagCase[DeliveriesOptions]{
		{Name: "defaults", Args: []string{id}, Want: DeliveriesOptions{ID: hookID, Format: output.FormatTable}},
		{Name: "status lower-cased, paging", Args: []string{id, "--status", "FAILED", "--limit", "5", "--offset", "10", "-o", "wide"},
			Want: DeliveriesOptions{ID: hookID, Query: client.DeliveryListOptions{Status: "failed", Limit: 5, Offset: 10}, Format: output.FormatWide}},
		{Name: "bad status", Args: []string{id, "--status", "done"}, WantErr: true},
		{Name: "not a uuid", Args: []string{"ops"}, WantErr: true},
		{Name: "bad format", Args: []string{id, "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdEventTypes(t *testing.T) {
	cmdtest.RunTable(t, NewCmdEventTypes, func(o *EventTypesOptions) { o.Factory = nil }, []cmdtest.FlagCase[EventTypesOptions]{
		{Name: "defaults", Want: EventTypesOptions{Format: output.FormatTable}},
		{Name: "name", Args: []string{"-o", "name"}, Want: EventTypesOptions{Format: output.FormatName}},
		{Name: "bad format", Args: []string{"-o", "x"}, WantErr: true},
		{Name: "extra argument", Args: []string{"x"}, WantErr: true},
	})
}
