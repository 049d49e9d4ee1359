package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server"
)

// cachedEnv is a broker whose target-state cache is active: its notification listener runs.
func cachedEnv(t *testing.T) *env {
	e := newEnv(t)
	start(t, e.srv)
	waitFor(t, "the notification listener", e.srv.ListeningForTest)
	return e
}

// poll fetches a's target state, conditionally when etag is set.
func (e *env) poll(a agentFixture, query, etag string) resp {
	e.t.Helper()
	r := req{method: "GET", path: v1path("agents", a.agent.ID, "target-state") + query, pak: a.pak}
	if etag != "" {
		r.headers = map[string]string{"If-None-Match": etag}
	}
	got := e.do(r)
	if got.status != http.StatusOK && got.status != http.StatusNotModified {
		e.t.Fatalf("target state: status %d, body %s", got.status, got.body)
	}
	if got.header.Get("ETag") == "" {
		e.t.Fatalf("target state: no ETag")
	}
	return got
}

// warm fetches a's target state until it is answered from memory, and returns its tag.
func (e *env) warm(a agentFixture, query string) string {
	e.t.Helper()
	first := e.poll(a, query, "")
	if first.status != http.StatusOK {
		e.t.Fatalf("unconditional request: status %d", first.status)
	}
	tag := first.header.Get("ETag")
	again := e.poll(a, query, tag)
	if again.status != http.StatusNotModified || len(again.body) != 0 || again.header.Get("ETag") != tag {
		e.t.Fatalf("repeat with If-None-Match %s: status %d, tag %s, %d bytes", tag, again.status, again.header.Get("ETag"), len(again.body))
	}
	plain := e.poll(a, query, "")
	if plain.status != http.StatusOK || !bytes.Equal(plain.body, first.body) {
		e.t.Fatalf("a request without If-None-Match got %d with %q, want 200 with %q", plain.status, plain.body, first.body)
	}
	return tag
}

// changed fails unless a's target state no longer has tag, and returns the new objects.
func (e *env) changed(a agentFixture, query, tag string) []client.DeploymentObject {
	e.t.Helper()
	got := e.poll(a, query, tag)
	if got.status != http.StatusOK || got.header.Get("ETag") == tag {
		e.t.Fatalf("target state still %s (status %d) after a change that alters it", tag, got.status)
	}
	var objs []client.DeploymentObject
	got.decode(e.t, &objs)
	return objs
}

// eventuallyChanged is changed for a change another process made: the notification may
// take a moment.
func (e *env) eventuallyChanged(t *testing.T, a agentFixture, query, tag string) []client.DeploymentObject {
	t.Helper()
	var objs []client.DeploymentObject
	waitFor(t, "the target state to change", func() bool {
		got := e.poll(a, query, tag)
		if got.status != http.StatusOK {
			return false
		}
		got.decode(t, &objs)
		return true
	})
	return objs
}

// unchanged fails unless a's target state still has tag.
func (e *env) unchanged(a agentFixture, query, tag string) {
	e.t.Helper()
	if got := e.poll(a, query, tag); got.status != http.StatusNotModified {
		e.t.Fatalf("target state changed (status %d, tag %s) after a change that does not alter it", got.status, got.header.Get("ETag"))
	}
}

// TestTargetStateCacheInvalidation changes, one kind at a time, everything a target state is
// made of, each time right after the answer was served from memory, and checks that the
// next request on the same replica gets the new answer.
func TestTargetStateCacheInvalidation(t *testing.T) {
	e := cachedEnv(t)
	g := e.createGenerator("g")
	other := e.createGenerator("other")
	n := 0
	object := func(stack client.Stack, key string) client.DeploymentObject {
		n++
		return e.createObject(stack.ID, key, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n", n))
	}
	// fixture: an agent registered with g, and a stack of g with one object.
	fixture := func(name string) (agentFixture, client.Stack, client.DeploymentObject) {
		a := e.createAgent(name, "c", g.gen.ID)
		s := e.createStack(name, g.gen.ID, g.pak)
		return a, s, object(s, g.pak)
	}

	t.Run("object posted to a targeted stack", func(t *testing.T) {
		e := e.withT(t)
		a, s, _ := fixture("post")
		e.addTarget(a.agent.ID, s.ID)
		tag := e.warm(a, "?mode=full")
		o2 := object(s, g.pak)
		wantObjects(t, e.changed(a, "?mode=full", tag), o2)
	})
	t.Run("object posted to another stack", func(t *testing.T) {
		e := e.withT(t)
		a, s, _ := fixture("unrelated")
		e.addTarget(a.agent.ID, s.ID)
		tag := e.warm(a, "?mode=full")
		elsewhere := e.createStack("elsewhere", g.gen.ID, g.pak)
		object(elsewhere, g.pak)
		e.unchanged(a, "?mode=full", tag)
	})
	t.Run("target added and removed", func(t *testing.T) {
		e := e.withT(t)
		a, s, o := fixture("target")
		tag := e.warm(a, "?mode=full")
		e.addTarget(a.agent.ID, s.ID)
		wantObjects(t, e.changed(a, "?mode=full", tag), o)
		tag = e.warm(a, "?mode=full")
		e.must(204, req{method: "DELETE", path: v1path("agents", a.agent.ID, "targets", s.ID), pak: e.admin})
		wantObjects(t, e.changed(a, "?mode=full", tag))
	})
	t.Run("agent label added and removed", func(t *testing.T) {
		e := e.withT(t)
		a, s, o := fixture("agent-label")
		e.addStackLabel(s.ID, "tier:agent-label")
		tag := e.warm(a, "?mode=full")
		e.addAgentLabel(a.agent.ID, "tier:agent-label")
		wantObjects(t, e.changed(a, "?mode=full", tag), o)
		tag = e.warm(a, "?mode=full")
		e.must(204, req{method: "DELETE", path: v1path("agents", a.agent.ID, "labels", "tier:agent-label"), pak: e.admin})
		wantObjects(t, e.changed(a, "?mode=full", tag))
	})
	t.Run("stack label", func(t *testing.T) {
		e := e.withT(t)
		a, s, o := fixture("stack-label")
		e.addAgentLabel(a.agent.ID, "tier:stack-label")
		tag := e.warm(a, "?mode=full")
		e.addStackLabel(s.ID, "tier:stack-label")
		wantObjects(t, e.changed(a, "?mode=full", tag), o)
	})
	t.Run("agent annotation", func(t *testing.T) {
		e := e.withT(t)
		a, s, o := fixture("agent-annotation")
		e.addStackAnnotation(s.ID, "zone", "agent-annotation")
		tag := e.warm(a, "?mode=full")
		e.addAgentAnnotation(a.agent.ID, "zone", "agent-annotation")
		wantObjects(t, e.changed(a, "?mode=full", tag), o)
	})
	t.Run("stack annotation removed", func(t *testing.T) {
		e := e.withT(t)
		a, s, o := fixture("stack-annotation")
		e.addAgentAnnotation(a.agent.ID, "zone", "stack-annotation")
		e.addStackAnnotation(s.ID, "zone", "stack-annotation")
		wantObjects(t, e.targetState(a, "?mode=full"), o)
		tag := e.warm(a, "?mode=full")
		e.must(204, req{method: "DELETE", path: v1path("stacks", s.ID, "annotations", "zone"), pak: e.admin})
		wantObjects(t, e.changed(a, "?mode=full", tag))
	})
	t.Run("registration", func(t *testing.T) {
		e := e.withT(t)
		a := e.createAgent("registration", "c")
		s := e.createStack("registration", other.gen.ID, other.pak)
		o := object(s, other.pak)
		e.addStackLabel(s.ID, "tier:registration")
		e.addAgentLabel(a.agent.ID, "tier:registration")
		tag := e.warm(a, "?mode=full")
		e.register(a.agent.ID, other.gen.ID)
		wantObjects(t, e.changed(a, "?mode=full", tag), o)
		tag = e.warm(a, "?mode=full")
		e.must(204, req{method: "DELETE", path: v1path("generators", other.gen.ID, "register"), pak: e.admin,
			body: map[string]any{"agent_id": a.agent.ID}})
		wantObjects(t, e.changed(a, "?mode=full", tag))
	})
	t.Run("stack deleted", func(t *testing.T) {
		e := e.withT(t)
		a, s, o := fixture("deleted")
		e.addTarget(a.agent.ID, s.ID)
		tag := e.warm(a, "?mode=full")
		e.must(204, req{method: "DELETE", path: v1path("stacks", s.ID), pak: e.admin})
		got := e.changed(a, "?mode=full", tag)
		if len(got) != 0 && (len(got) != 1 || got[0].ID == o.ID || !got[0].IsDeletionMarker) {
			t.Fatalf("after deleting the stack, target state %+v", got)
		}
	})
	t.Run("event reported, incremental mode", func(t *testing.T) {
		e := e.withT(t)
		a, s, o := fixture("event")
		e.addTarget(a.agent.ID, s.ID)
		tag := e.warm(a, "")
		fullTag := e.warm(a, "?mode=full")
		e.reportEvent(a, o.ID, "SUCCESS")
		wantObjects(t, e.changed(a, "", tag))
		e.unchanged(a, "?mode=full", fullTag)
	})
	t.Run("events deleted behind the broker", func(t *testing.T) {
		e := e.withT(t)
		a, s, o := fixture("purged")
		e.addTarget(a.agent.ID, s.ID)
		e.reportEvent(a, o.ID, "SUCCESS")
		tag := e.warm(a, "")
		if _, err := e.db.ExecContext(context.Background(), `DELETE FROM agent_events WHERE agent_id = $1`, a.agent.ID); err != nil {
			t.Fatal(err)
		}
		wantObjects(t, e.eventuallyChanged(t, a, "", tag), o)
	})
	if n := e.srv.TargetCacheLenForTest(); n == 0 {
		t.Fatal("no answer kept in memory: the tests above did not exercise the cache")
	}
}

// TestTargetStateCacheAcrossReplicas changes a target state through one replica and reads it
// through another, which had it in memory; and checks that a replica without the cache
// serves the same bytes and tags.
func TestTargetStateCacheAcrossReplicas(t *testing.T) {
	a := cachedEnv(t)
	b := a.replica()
	start(t, b.srv)
	plain := a.replicaWith(func(o *server.Options) { o.Config.Broker.TargetStateCacheEntries = 0 })
	waitFor(t, "the second listener", b.srv.ListeningForTest)

	g := a.createGenerator("g")
	agent := a.createAgent("agent", "c", g.gen.ID)
	s := a.createStack("s", g.gen.ID, g.pak)
	a.createObject(s.ID, g.pak, cmYAML)
	a.addTarget(agent.agent.ID, s.ID)
	tag := b.warm(agent, "?mode=full")

	fromCache, fromDB := b.poll(agent, "?mode=full", ""), plain.poll(agent, "?mode=full", "")
	if !bytes.Equal(fromCache.body, fromDB.body) || fromCache.header.Get("ETag") != fromDB.header.Get("ETag") {
		t.Fatalf("cached answer %s %q differs from the database's %s %q",
			fromCache.header.Get("ETag"), fromCache.body, fromDB.header.Get("ETag"), fromDB.body)
	}
	if got := plain.poll(agent, "?mode=full", tag); got.status != http.StatusNotModified {
		t.Fatalf("a replica without the cache answered %d to a current tag", got.status)
	}

	o2 := a.createObject(s.ID, g.pak, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\n")
	wantObjects(t, b.eventuallyChanged(t, agent, "?mode=full", tag), o2)
}

// TestTargetStateCacheListenerLoss cuts the replica's notification connection and changes a
// target state in the database at once: the answer kept from before must not be served.
func TestTargetStateCacheListenerLoss(t *testing.T) {
	e := cachedEnv(t)
	g := e.createGenerator("g")
	a := e.createAgent("agent", "c", g.gen.ID)
	s := e.createStack("s", g.gen.ID, g.pak)
	e.createObject(s.ID, g.pak, cmYAML)
	e.addTarget(a.agent.ID, s.ID)
	tag := e.warm(a, "?mode=full")

	// The broker's listening connection (each test has a database of its own).
	ctx := context.Background()
	var killed int
	if err := e.db.GetContext(ctx, &killed, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND datname = current_database() AND query LIKE 'LISTEN%'`); err != nil || killed != 1 {
		t.Fatalf("terminated %d listening connections (%v), want 1", killed, err)
	}
	// The same change a reference broker's or an operator's SQL would make.
	var id uuid.UUID
	if err := e.db.GetContext(ctx, &id, `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, is_deletion_marker)
		VALUES ($1, 'x: 1', 'x', false) RETURNING id`, s.ID); err != nil {
		t.Fatal(err)
	}
	got := e.eventuallyChanged(t, a, "?mode=full", tag)
	if len(got) != 1 || got[0].ID != id {
		t.Fatalf("target state %+v, want the object %s", got, id)
	}
}

// TestTargetStatePushThenFetch has an agent fetch its target state the moment the broker
// pushes stack_changed, while the write that caused the push is still being answered: the
// answer must already hold the new object (brokkr-agent fetches on that push).
func TestTargetStatePushThenFetch(t *testing.T) {
	e := cachedEnv(t)
	f := e.liveFixture("push")
	w := e.connectAgent(f.agent)
	// A busy replica's listener lags behind the write; the push must wait for it.
	e.srv.SetTargetNotifyDelayForTest(100 * time.Millisecond)
	for round := range 3 {
		tag := e.warm(f.agent, "?mode=full")
		posted := make(chan client.DeploymentObject, 1)
		go func() {
			var out client.DeploymentObject
			r := e.do(req{method: "POST", path: v1path("stacks", f.stack.ID, "deployment-objects"), pak: f.gen.pak,
				body: map[string]any{"yaml_content": fmt.Sprintf("%s# round %d\n", cmYAML, round)}})
			_ = json.Unmarshal(r.body, &out)
			posted <- out
		}()
		w.expect(client.WSStackChanged)
		got := e.poll(f.agent, "?mode=full", tag)
		o := <-posted
		if got.status != http.StatusOK {
			t.Fatalf("round %d: fetched on stack_changed, got %d: the answer from before the write", round, got.status)
		}
		var objs []client.DeploymentObject
		got.decode(t, &objs)
		wantObjects(t, objs, o)
	}
}
