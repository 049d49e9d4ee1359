package webhook

import (
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// testNow is the fixed clock of the parsing tests.
var testNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// parse builds a command with newCmd and a capturing runF, runs it with args, and returns
// the options runF received (nil when the command failed before reaching it).
func parse[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, tty bool, stdin string, args []string) (*O, error) {
	t.Helper()
	var got *O
	cmd := newCmd(testFactory(tty, stdin), func(o *O) error { got = o; return nil })
	return got, execute(cmd, args)
}

func testFactory(tty bool, stdin string) *cmdutil.Factory {
	ios, in, _, _ := iostreams.Test()
	in.WriteString(stdin)
	ios.SetStdinTTY(tty)
	ios.SetStdoutTTY(tty)
	f := cmdutil.NewFactory("test", ios)
	f.Now = func() time.Time { return testNow }
	return f
}

func execute(cmd *cobra.Command, args []string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	_, err := cmd.ExecuteC()
	return err
}

// flagCase is one row of a parsing table: args either parse into want or fail with a
// usage error.
type flagCase[O any] struct {
	name    string
	args    []string
	tty     bool
	stdin   string
	want    O
	wantErr bool
}

// runTable runs every case against newCmd; clear drops the fields that are not compared
// (the Factory).
func runTable[O any](t *testing.T, newCmd func(*cmdutil.Factory, func(*O) error) *cobra.Command, clear func(*O), tests []flagCase[O]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, newCmd, tt.tty, tt.stdin, tt.args)
			if tt.wantErr {
				wantFlagError(t, tt.args, err)
				return
			}
			if err != nil {
				t.Fatalf("%q: %v", tt.args, err)
			}
			clear(got)
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("%q:\n got %+v\nwant %+v", tt.args, *got, tt.want)
			}
		})
	}
}

// wantFlagError fails the test unless err is a usage error (exit code 2).
func wantFlagError(t *testing.T, args []string, err error) {
	t.Helper()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || cmdutil.ExitCodeOf(err) != cmdutil.ExitUsage {
		t.Fatalf("%q: want a flag error, got %v", args, err)
	}
}

var hookID = uuid.MustParse("7c1d2e3f-0b6d-4f3c-8a55-1d2f3a4b5c6d")

func sp(s string) *string { return &s }
func i32(v int32) *int32  { return &v }
func bp(v bool) *bool     { return &v }

func TestNewCmdList(t *testing.T) {
	runTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []flagCase[ListOptions]{
		{name: "defaults", want: ListOptions{Format: output.FormatTable}},
		{name: "wide", args: []string{"-o", "wide"}, want: ListOptions{Format: output.FormatWide}},
		{name: "bad format", args: []string{"-o", "x"}, wantErr: true},
		{name: "extra argument", args: []string{"x"}, wantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	runTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []flagCase[GetOptions]{
		{name: "yaml", args: []string{hookID.String(), "-o", "yaml"}, want: GetOptions{ID: hookID, Format: output.FormatYAML}},
		{name: "not a uuid", args: []string{"ops"}, wantErr: true},
		{name: "missing", wantErr: true},
		{name: "bad format", args: []string{hookID.String(), "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdCreate(t *testing.T) {
	clear := func(o *CreateOptions) { o.Factory = nil }
	runTable(t, NewCmdCreate, clear, []flagCase[CreateOptions]{
		{name: "minimal", args: []string{"--name", "ops", "--url", "https://h.example/x", "--event", "agent.offline"},
			want: CreateOptions{Name: "ops", URL: "https://h.example/x", Events: []string{"agent.offline"}, Format: output.FormatTable,
				Request: client.CreateWebhookRequest{Name: "ops", URL: "https://h.example/x", EventTypes: []string{"agent.offline"}}}},
		{name: "every flag", args: []string{"--name", "ops", "--url", "u", "--event", "a", "--event", "b", "--auth-header", "Bearer t",
			"--max-retries", "0", "--timeout", "5", "--target-label", "prod", "--target-label", "eu",
			"--agent-filter", "edge-1/prod", "--stack-filter", "web", "-o", "json"},
			want: CreateOptions{Name: "ops", URL: "u", AuthHeader: "Bearer t", Events: []string{"a", "b"}, TargetLabels: []string{"prod", "eu"},
				Timeout: 5, Format: output.FormatJSON, filters: filterFlags{agent: "edge-1/prod", stack: "web"},
				Request: client.CreateWebhookRequest{Name: "ops", URL: "u", EventTypes: []string{"a", "b"}, AuthHeader: sp("Bearer t"),
					MaxRetries: i32(0), TimeoutSeconds: i32(5), TargetLabels: []string{"prod", "eu"}}}},
		{name: "no name", args: []string{"--url", "u", "--event", "a"}, wantErr: true},
		{name: "no url", args: []string{"--name", "n", "--event", "a"}, wantErr: true},
		{name: "no event", args: []string{"--name", "n", "--url", "u"}, wantErr: true},
		{name: "bad retries", args: []string{"--name", "n", "--url", "u", "--event", "a", "--max-retries", "many"}, wantErr: true},
		{name: "bad format", args: []string{"--name", "n", "--url", "u", "--event", "a", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	id := hookID.String()
	labels := []string{"prod"}
	var none []string
	base := func(r client.UpdateWebhookRequest) UpdateOptions {
		return UpdateOptions{ID: hookID, Request: r, Format: output.FormatTable}
	}
	runTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []flagCase[UpdateOptions]{
		{name: "disable", args: []string{id, "--disable"}, want: base(client.UpdateWebhookRequest{Enabled: bp(false)})},
		{name: "enable", args: []string{id, "--enable"}, want: base(client.UpdateWebhookRequest{Enabled: bp(true)})},
		{name: "fields", args: []string{id, "--name", "n", "--url", "u", "--auth-header", "", "--event", "*", "--event", "x",
			"--max-retries", "10", "--timeout", "3"},
			want: base(client.UpdateWebhookRequest{Name: sp("n"), URL: sp("u"), AuthHeader: sp(""), EventTypes: []string{"*", "x"},
				MaxRetries: i32(10), TimeoutSeconds: i32(3)})},
		{name: "target labels", args: []string{id, "--target-label", "prod"}, want: base(client.UpdateWebhookRequest{TargetLabels: &labels})},
		{name: "broker delivery clears labels", args: []string{id, "--broker-delivery"}, want: base(client.UpdateWebhookRequest{TargetLabels: &none})},
		{name: "filters alone are a change", args: []string{id, "--stack-filter", "web"},
			want: UpdateOptions{ID: hookID, Format: output.FormatTable, filters: filterFlags{stack: "web"}}},
		{name: "broker delivery false changes nothing", args: []string{id, "--broker-delivery=false"}, wantErr: true},
		{name: "broker delivery false keeps labels", args: []string{id, "--broker-delivery=false", "--target-label", "prod"},
			want: base(client.UpdateWebhookRequest{TargetLabels: &labels})},
		{name: "enable and disable", args: []string{id, "--enable", "--disable"}, wantErr: true},
		{name: "broker delivery and labels", args: []string{id, "--broker-delivery", "--target-label", "a"}, wantErr: true},
		{name: "nothing to change", args: []string{id}, wantErr: true},
		{name: "not a uuid", args: []string{"ops", "--disable"}, wantErr: true},
		{name: "missing", args: []string{"--disable"}, wantErr: true},
		{name: "bad format", args: []string{id, "--disable", "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	id := hookID.String()
	runTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []flagCase[DeleteOptions]{
		{name: "yes", args: []string{id, "--yes"}, want: DeleteOptions{ID: hookID, Yes: true}},
		{name: "tty asks later", tty: true, args: []string{id}, want: DeleteOptions{ID: hookID}},
		{name: "no tty needs yes", args: []string{id}, wantErr: true},
		{name: "not a uuid", args: []string{"ops", "-y"}, wantErr: true},
		{name: "missing", args: []string{"-y"}, wantErr: true},
	})
}

func TestNewCmdTest(t *testing.T) {
	runTable(t, NewCmdTest, func(o *TestOptions) { o.Factory = nil }, []flagCase[TestOptions]{
		{name: "json", args: []string{hookID.String(), "-o", "json"}, want: TestOptions{ID: hookID, Format: output.FormatJSON}},
		{name: "not a uuid", args: []string{"ops"}, wantErr: true},
		{name: "missing", wantErr: true},
		{name: "bad format", args: []string{hookID.String(), "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdDeliveries(t *testing.T) {
	id := hookID.String()
	runTable(t, NewCmdDeliveries, func(o *DeliveriesOptions) { o.Factory = nil }, []flagCase[DeliveriesOptions]{
		{name: "defaults", args: []string{id}, want: DeliveriesOptions{ID: hookID, Format: output.FormatTable}},
		{name: "status lower-cased, paging", args: []string{id, "--status", "FAILED", "--limit", "5", "--offset", "10", "-o", "wide"},
			want: DeliveriesOptions{ID: hookID, Query: client.DeliveryListOptions{Status: "failed", Limit: 5, Offset: 10}, Format: output.FormatWide}},
		{name: "bad status", args: []string{id, "--status", "done"}, wantErr: true},
		{name: "not a uuid", args: []string{"ops"}, wantErr: true},
		{name: "bad format", args: []string{id, "-o", "x"}, wantErr: true},
	})
}

func TestNewCmdEventTypes(t *testing.T) {
	runTable(t, NewCmdEventTypes, func(o *EventTypesOptions) { o.Factory = nil }, []flagCase[EventTypesOptions]{
		{name: "defaults", want: EventTypesOptions{Format: output.FormatTable}},
		{name: "name", args: []string{"-o", "name"}, want: EventTypesOptions{Format: output.FormatName}},
		{name: "bad format", args: []string{"-o", "x"}, wantErr: true},
		{name: "extra argument", args: []string{"x"}, wantErr: true},
	})
}
