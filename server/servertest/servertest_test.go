package servertest_test

import (
	"context"
	"testing"

	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestAgentKeyWorks(t *testing.T) {
	b := servertest.Start(t)
	a := b.CreateAgent(t, "edge-1", "cluster-1", true)
	got, err := a.Client.Agents().Search(context.Background(), "edge-1", "cluster-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Status != "ACTIVE" {
		t.Fatalf("agent %+v, want id %s ACTIVE", got, a.ID)
	}
}
