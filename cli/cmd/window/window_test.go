package window

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/client"
)

func TestNewCmdCreate(t *testing.T) {
	full := []string{"freeze", "--kind", "Deny", "--schedule", "0 0 20 12 *", "--duration", "168h", "--time-zone", "Europe/Oslo",
		"--label", "prod", "--label", "edge", "--annotation", "region=eu", "--stack", "web", "--stack", "api", "--description", "year end", "-o", "json"}
	cmdtest.RunTable(t, NewCmdCreate, func(o *CreateOptions) { o.Factory = nil }, []cmdtest.FlagCase[CreateOptions]{
		{Name: "every flag", Args: full, Want: CreateOptions{Name: "freeze", Kind: "Deny", Schedule: "0 0 20 12 *", Duration: 168 * time.Hour,
			TimeZone: "Europe/Oslo", Labels: []string{"prod", "edge"}, Annotations: []string{"region=eu"}, Stacks: []string{"web", "api"},
			Description: "year end", Format: output.FormatJSON,
			Window: client.ApplyWindow{Name: "freeze", Kind: client.WindowDeny, Schedule: "0 0 20 12 *", Duration: "168h0m0s",
				TimeZone: "Europe/Oslo", Description: "year end",
				Selector: client.Selector{Labels: []string{"prod", "edge"}, Annotations: map[string]string{"region": "eu"}}}}},
		{Name: "--name and a descriptor", Args: []string{"--name", "nightly", "--kind", "allow", "--schedule", "@daily", "--duration", "4h"},
			Want: CreateOptions{Name: "nightly", Kind: "allow", Schedule: "@daily", Duration: 4 * time.Hour, Format: output.FormatTable,
				Window: client.ApplyWindow{Name: "nightly", Kind: client.WindowAllow, Schedule: "@daily", Duration: "4h0m0s"}}},
		{Name: "no name", Args: []string{"--kind", "allow", "--schedule", "@daily", "--duration", "4h"}, WantErr: true},
		{Name: "no kind", Args: []string{"w", "--schedule", "@daily", "--duration", "4h"}, WantErr: true},
		{Name: "bad kind", Args: []string{"w", "--kind", "maybe", "--schedule", "@daily", "--duration", "4h"}, WantErr: true},
		{Name: "no schedule", Args: []string{"w", "--kind", "allow", "--duration", "4h"}, WantErr: true},
		{Name: "no duration", Args: []string{"w", "--kind", "allow", "--schedule", "@daily"}, WantErr: true},
		{Name: "bad duration", Args: []string{"w", "--kind", "allow", "--schedule", "@daily", "--duration", "4 hours"}, WantErr: true},
		{Name: "bad annotation", Args: []string{"w", "--kind", "allow", "--schedule", "@daily", "--duration", "4h", "--annotation", "region"}, WantErr: true},
		{Name: "two names", Args: []string{"a", "b", "--kind", "allow", "--schedule", "@daily", "--duration", "4h"}, WantErr: true},
	})
}

func TestNewCmdGetAndDelete(t *testing.T) {
	cmdtest.RunTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []cmdtest.FlagCase[GetOptions]{
		{Name: "name", Args: []string{"freeze", "-o", "yaml"}, Want: GetOptions{Ref: "freeze", Format: output.FormatYAML}},
		{Name: "missing", WantErr: true},
	})
	cmdtest.RunTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []cmdtest.FlagCase[DeleteOptions]{
		{Name: "yes", Args: []string{"freeze", "--yes"}, Want: DeleteOptions{Ref: "freeze", Yes: true}},
		{Name: "no tty needs yes", Args: []string{"freeze"}, WantErr: true},
	})
	cmdtest.RunTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []cmdtest.FlagCase[ListOptions]{
		{Name: "wide", Args: []string{"-o", "wide"}, Want: ListOptions{Format: output.FormatWide}},
		{Name: "argument", Args: []string{"freeze"}, WantErr: true},
	})
}

func TestWindowTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	web, gone := uuid.New(), uuid.MustParse("55555555-5555-4555-8555-555555555555")
	open, closeAt := now.Add(2*time.Hour), now.Add(6*time.Hour)
	windows := []client.ApplyWindow{
		{Name: "freeze", Kind: client.WindowDeny, Schedule: "0 0 20 12 *", Duration: "168h0m0s", TimeZone: "Europe/Oslo", Open: true,
			NextCloseAt: &closeAt, Selector: client.Selector{Labels: []string{"prod"}, Annotations: map[string]string{"tier": "edge", "region": "eu"}},
			StackIDs: []uuid.UUID{web, gone}},
		{Name: "nightly", Kind: client.WindowAllow, Schedule: "@daily", Duration: "4h0m0s", TimeZone: "UTC", NextOpenAt: &open, NextCloseAt: &closeAt},
	}
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	p := &output.Printer{IO: ios, Format: output.FormatTable, Now: func() time.Time { return now }}
	if err := output.PrintList(p, specs.ApplyWindow, specs.WindowRows(windows, map[uuid.UUID]string{web: "web"})); err != nil {
		t.Fatal(err)
	}
	want := "NAME      KIND    SCHEDULE      DURATION   TIME ZONE     OPEN   NEXT OPEN   NEXT CLOSE   AGENTS                     STACKS\n" +
		"freeze    deny    0 0 20 12 *   168h0m0s   Europe/Oslo   yes    -           in 6h        prod,region=eu,tier=edge   web,55555555-5555-4555-8555-555555555555\n" +
		"nightly   allow   @daily        4h0m0s     UTC           no     in 2h       in 6h        all                        all\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}
