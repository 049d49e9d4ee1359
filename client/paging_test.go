package client_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// TestPaging checks the paged reads against a broker: the whole-list methods follow the
// cursors to the end, the Page methods read one page and hand back its cursor, and
// LatestDeploymentObject reads the newest object alone.
func TestPaging(t *testing.T) {
	b := newBroker(t)
	ctx := context.Background()
	admin := b.client(b.admin)
	gen, err := admin.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	g := b.client(gen.PAK)
	st, err := g.Stacks().Create(ctx, client.CreateStackRequest{Name: "web", GeneratorID: gen.Generator.ID})
	if err != nil {
		t.Fatal(err)
	}
	if latest, err := g.Stacks().LatestDeploymentObject(ctx, st.ID, true); err != nil || latest != nil {
		t.Fatalf("latest of an empty stack: %v, %v", latest, err)
	}
	// 105 objects: more than the broker's default page of 100.
	var created []client.DeploymentObject
	for i := range 105 {
		o, err := g.Stacks().CreateDeploymentObject(ctx, st.ID, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: v%d}\n", i), false)
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, o)
	}
	newest := created[len(created)-1]

	all, err := g.Stacks().DeploymentObjects(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 105 || all[0] != newest || all[104] != created[0] {
		t.Fatalf("DeploymentObjects: %d objects", len(all))
	}

	seen := map[uuid.UUID]bool{}
	opts := &client.DeploymentObjectListOptions{ListOptions: client.ListOptions{Limit: 40}, WithoutYAML: true}
	for pages := 1; ; pages++ {
		p, err := g.Stacks().DeploymentObjectsPage(ctx, st.ID, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > 40 {
			t.Fatalf("page of %d with Limit 40", len(p.Items))
		}
		for _, o := range p.Items {
			if seen[o.ID] || o.YAMLContent != "" {
				t.Fatalf("object %s repeated or with YAML", o.ID)
			}
			seen[o.ID] = true
		}
		if p.NextCursor == "" {
			if pages != 3 || len(seen) != 105 {
				t.Fatalf("%d pages, %d objects", pages, len(seen))
			}
			break
		}
		opts.Cursor = p.NextCursor
	}

	latest, err := g.Stacks().LatestDeploymentObject(ctx, st.ID, false)
	if err != nil || latest == nil || latest.ID != newest.ID || latest.YAMLChecksum != newest.YAMLChecksum || latest.YAMLContent != "" {
		t.Fatalf("LatestDeploymentObject without YAML: %+v, %v", latest, err)
	}
	if latest, err = g.Stacks().LatestDeploymentObject(ctx, st.ID, true); err != nil || latest == nil || *latest != newest {
		t.Fatalf("LatestDeploymentObject: %+v, %v", latest, err)
	}

	// A limited whole-list read stops at its limit.
	a, err := admin.Agents().Create(ctx, client.CreateAgentRequest{Name: "a", ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	var orders []uuid.UUID
	for range 5 {
		w, err := admin.WorkOrders().Create(ctx, client.CreateWorkOrderRequest{WorkType: "build", YAMLContent: "k: v\n",
			Targeting: &client.WorkOrderTargeting{AgentIDs: []uuid.UUID{a.Agent.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, w.ID)
	}
	got, err := admin.WorkOrders().List(ctx, &client.WorkOrderListOptions{Limit: 3})
	if err != nil || len(got) != 3 || got[0].ID != orders[4] || got[2].ID != orders[2] {
		t.Fatalf("List with Limit 3: %d orders, %v", len(got), err)
	}
	page, err := admin.WorkOrders().PendingPage(ctx, a.Agent.ID, "", &client.ListOptions{Limit: 2})
	if err != nil || len(page.Items) != 2 || page.Items[0].ID != orders[0] || page.NextCursor == "" {
		t.Fatalf("PendingPage: %+v, %v", page, err)
	}
	page, err = admin.WorkOrders().PendingPage(ctx, a.Agent.ID, "", &client.ListOptions{Limit: 2, Cursor: page.NextCursor})
	if err != nil || len(page.Items) != 2 || page.Items[0].ID != orders[2] {
		t.Fatalf("PendingPage 2: %+v, %v", page, err)
	}
}
