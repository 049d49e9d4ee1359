package workorders

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

// newDriver runs a view's commands against a real broker the way the program would,
// feeding the view its own answers and keeping what goes to the root (status, flash,
// confirm). Timer ticks and cursor blinks are not fed back: the test drives the polling.
func newDriver(t *testing.T, v ui.View) *viewtest.Driver {
	return &viewtest.Driver{T: t, View: v, Reachable: true,
		Feed: viewtest.Types(LoadedMsg{}, DetailMsg{}, FileReadMsg{}, CreatedMsg{}, DeletedMsg{})}
}

func TestAgainstBroker(t *testing.T) {
	ctx := context.Background()
	b := servertest.Start(t)
	edge := b.CreateAgent(t, "edge-1", "cluster-1", true)
	other := b.CreateAgent(t, "edge-2", "cluster-2", true)

	env := viewtest.Env(now, time.Second)
	env.Client = b.Admin
	env.Now = time.Now
	env.RefreshEvery = time.Millisecond
	m := New(env).(*Model)
	d := newDriver(t, m)
	d.Run(m.Init())
	if !m.loaded || m.listErr != nil || len(m.rows) != 0 {
		t.Fatalf("first load: loaded %v, err %v, %d rows", m.loaded, m.listErr, len(m.rows))
	}
	if len(d.Statuses) == 0 {
		t.Fatal("the load reported no status")
	}

	// Create an order from a file, targeted at an agent by name.
	yaml := "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n"
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Press("n")
	d.Type(path)
	d.Press("enter") // reads the file
	if m.form == nil || m.form.step != stepType {
		t.Fatalf("after the file: form %+v", m.form)
	}
	d.Press("enter") // work type custom
	d.Type("edge-1")
	d.Press("enter") // creates
	if m.form != nil {
		t.Fatalf("the form stays open: %+v", m.form)
	}
	if f := d.LastFlash(); f.Error || !strings.Contains(f.Text, "created for edge-1") {
		t.Fatalf("flash %+v", f)
	}
	orders, err := b.Admin.WorkOrders().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 1 || orders[0].WorkType != "custom" || orders[0].YAMLContent != yaml || orders[0].Status != client.WorkOrderPending {
		t.Fatalf("broker has %+v", orders)
	}
	order := orders[0]
	pending, err := edge.Client.WorkOrders().Pending(ctx, edge.ID, "")
	if err != nil || len(pending) != 1 || pending[0].ID != order.ID {
		t.Fatalf("edge-1 pending = %v, %v; want the new order", pending, err)
	}
	if p, err := other.Client.WorkOrders().Pending(ctx, other.ID, ""); err != nil || len(p) != 0 {
		t.Fatalf("edge-2 pending = %v, %v; want none", p, err)
	}
	// The reload after the creation shows it, with its target.
	if len(m.rows) != 1 || m.rows[0].id != order.ID || m.rows[0].targets != "edge-1" || m.rows[0].status != "PENDING" {
		t.Fatalf("rows %+v", m.rows)
	}

	// An unknown agent is refused in the form, and nothing is created.
	d.Press("n")
	d.Type(path)
	d.Press("enter", "enter")
	d.Type("edge-1,nosuch")
	d.Press("enter")
	if m.form == nil || !strings.Contains(m.form.err, `unknown agent "nosuch"`) {
		t.Fatalf("form after an unknown agent: %+v", m.form)
	}
	if f := d.LastFlash(); !f.Error || !strings.Contains(f.Text, "nosuch") {
		t.Fatalf("flash %+v", f)
	}
	d.Press("esc")
	if orders, _ := b.Admin.WorkOrders().List(ctx, nil); len(orders) != 1 {
		t.Fatalf("%d orders after a refused create", len(orders))
	}

	// The detail of the queued order.
	d.Press("enter")
	if m.mode != modeDetail || m.order == nil || m.order.ID != order.ID || m.detailErr != nil {
		t.Fatalf("detail: mode %v order %v err %v", m.mode, m.order, m.detailErr)
	}
	if out := ui.Plain(m.Render(100, 30)); !strings.Contains(out, "Eligible       edge-1") || !strings.Contains(out, "kind: Job") {
		t.Fatalf("detail render:\n%s", out)
	}
	d.Press("esc")

	// Delete with confirmation: gone from the broker.
	d.Press("d")
	if len(d.Confirms) == 0 || !strings.HasPrefix(d.Confirms[len(d.Confirms)-1].Prompt, "Delete work order "+ui.ShortID(order.ID)) {
		t.Fatalf("confirm %+v", d.Confirms)
	}
	d.Run(d.LastConfirm(t).On)
	if f := d.LastFlash(); f.Error || f.Text != "work order "+ui.ShortID(order.ID)+" deleted" {
		t.Fatalf("flash %+v", f)
	}
	if orders, err := b.Admin.WorkOrders().List(ctx, nil); err != nil || len(orders) != 0 {
		t.Fatalf("after delete: %v, %v", orders, err)
	}
	if len(m.rows) != 0 {
		t.Fatalf("rows after delete: %+v", m.rows)
	}
}

func TestFinishedOrderAgainstBroker(t *testing.T) {
	ctx := context.Background()
	b := servertest.Start(t)
	edge := b.CreateAgent(t, "edge-1", "cluster-1", true)
	o, err := b.Admin.WorkOrders().Create(ctx, client.CreateWorkOrderRequest{WorkType: "build", YAMLContent: "kind: Build\n",
		Targeting: &client.WorkOrderTargeting{AgentIDs: []uuid.UUID{edge.ID}}})
	if err != nil {
		t.Fatal(err)
	}

	env := viewtest.Env(now, time.Second)
	env.Client = b.Admin
	env.Now = time.Now
	env.RefreshEvery = time.Millisecond
	m := New(env).(*Model)
	d := newDriver(t, m)
	d.Run(m.Init())
	if len(m.rows) != 1 || !m.rows[0].queued {
		t.Fatalf("rows %+v", m.rows)
	}

	// The agent takes and finishes the order while the list still shows it queued.
	if _, err := edge.Client.WorkOrders().Claim(ctx, o.ID, edge.ID); err != nil {
		t.Fatal(err)
	}
	msg := "built registry.example.com/web:1.2"
	if _, err := edge.Client.WorkOrders().Complete(ctx, o.ID, client.CompleteWorkOrderRequest{Success: true, Message: &msg}); err != nil {
		t.Fatal(err)
	}

	// Deleting it now is refused by the broker (404): an error flash, no unreachable status.
	d.Press("d")
	d.Run(d.LastConfirm(t).On)
	if f := d.LastFlash(); !f.Error || !strings.Contains(f.Text, "no longer queued") {
		t.Fatalf("flash %+v", f)
	}
	// The reload after the refusal shows it finished.
	if len(m.rows) != 1 || m.rows[0].queued || m.rows[0].status != client.WorkOrderCompleted || m.rows[0].claimedBy != "edge-1" {
		t.Fatalf("rows %+v", m.rows)
	}

	// Its detail carries the log entry with the result message.
	d.Press("enter")
	if m.log == nil || m.log.ResultMessage == nil || *m.log.ResultMessage != msg || m.detailErr != nil {
		t.Fatalf("detail log %+v err %v", m.log, m.detailErr)
	}
	out := ui.Plain(m.Render(100, 30))
	for _, want := range []string{"COMPLETED", "Message        " + msg, "Executed by    edge-1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("detail lacks %q:\n%s", want, out)
		}
	}
}
