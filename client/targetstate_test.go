package client_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// targetStateServer answers target-state requests as told and records what they carried.
type targetStateServer struct {
	mu          sync.Mutex
	ifNoneMatch []string // one per request; "" when absent
	modes       []string
	answer      func(w http.ResponseWriter, ifNoneMatch string)
}

func (s *targetStateServer) start(t *testing.T) *client.Client {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inm := r.Header.Get("If-None-Match")
		s.mu.Lock()
		s.ifNoneMatch = append(s.ifNoneMatch, inm)
		s.modes = append(s.modes, r.URL.Query().Get("mode"))
		s.mu.Unlock()
		s.answer(w, inm)
	}))
	t.Cleanup(ts.Close)
	return newClient(t, ts.URL, client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
}

func (s *targetStateServer) last(t *testing.T) (ifNoneMatch, mode string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ifNoneMatch) == 0 {
		t.Fatal("no request reached the server")
	}
	return s.ifNoneMatch[len(s.ifNoneMatch)-1], s.modes[len(s.modes)-1]
}

func TestTargetStateIfChangedHeaders(t *testing.T) {
	c := ctx(t)
	agentID := uuid.New()
	obj := client.DeploymentObject{ID: uuid.New(), StackID: uuid.New(), SequenceID: 7, YAMLChecksum: "abc"}
	body, err := json.Marshal([]client.DeploymentObject{obj})
	if err != nil {
		t.Fatal(err)
	}
	const tag = `"v1-4f2a"`
	// etagged answers 304 to its own tag and 200 with the tag otherwise, as the broker does.
	etagged := func(w http.ResponseWriter, inm string) {
		w.Header().Set("ETag", tag)
		if inm == tag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}

	t.Run("no tag: unconditional request, 200 decoded with its ETag", func(t *testing.T) {
		s := &targetStateServer{answer: etagged}
		res, err := s.start(t).Agents().TargetStateIfChanged(c, agentID, true, "")
		if err != nil {
			t.Fatal(err)
		}
		if inm, mode := s.last(t); inm != "" || mode != "full" {
			t.Fatalf("sent If-None-Match %q, mode %q", inm, mode)
		}
		if res.NotModified || res.ETag != tag || len(res.Objects) != 1 || res.Objects[0].ID != obj.ID || res.Objects[0].SequenceID != 7 {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("matching tag: If-None-Match sent verbatim, 304 not decoded", func(t *testing.T) {
		s := &targetStateServer{answer: etagged}
		res, err := s.start(t).Agents().TargetStateIfChanged(c, agentID, false, tag)
		if err != nil {
			t.Fatal(err)
		}
		if inm, mode := s.last(t); inm != tag || mode != "" {
			t.Fatalf("sent If-None-Match %q, mode %q", inm, mode)
		}
		if !res.NotModified || res.Objects != nil || res.ETag != tag {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("304 without an ETag header keeps the tag sent", func(t *testing.T) {
		s := &targetStateServer{answer: func(w http.ResponseWriter, _ string) { w.WriteHeader(http.StatusNotModified) }}
		res, err := s.start(t).Agents().TargetStateIfChanged(c, agentID, true, tag)
		if err != nil {
			t.Fatal(err)
		}
		if !res.NotModified || res.ETag != tag {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("stale tag: 200 with the new tag", func(t *testing.T) {
		s := &targetStateServer{answer: etagged}
		res, err := s.start(t).Agents().TargetStateIfChanged(c, agentID, true, `"old"`)
		if err != nil {
			t.Fatal(err)
		}
		if res.NotModified || res.ETag != tag || len(res.Objects) != 1 {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("broker without ETag: every answer is a change, tag empty", func(t *testing.T) {
		s := &targetStateServer{answer: func(w http.ResponseWriter, _ string) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}}
		res, err := s.start(t).Agents().TargetStateIfChanged(c, agentID, true, tag)
		if err != nil {
			t.Fatal(err)
		}
		if res.NotModified || res.ETag != "" || len(res.Objects) != 1 {
			t.Fatalf("result %+v", res)
		}
	})

	t.Run("304 to an unconditional request is an error", func(t *testing.T) {
		s := &targetStateServer{answer: func(w http.ResponseWriter, _ string) { w.WriteHeader(http.StatusNotModified) }}
		res, err := s.start(t).Agents().TargetStateIfChanged(c, agentID, true, "")
		if e, ok := client.AsError(err); !ok || e.StatusCode != http.StatusNotModified {
			t.Fatalf("result %+v, error %v", res, err)
		}
	})

	t.Run("error answers stay errors", func(t *testing.T) {
		s := &targetStateServer{answer: func(w http.ResponseWriter, _ string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":"agent_not_found","message":"agent not found"}`))
		}}
		_, err := s.start(t).Agents().TargetStateIfChanged(c, agentID, true, tag)
		if !client.IsNotFound(err) || !client.HasCode(err, "agent_not_found") {
			t.Fatalf("error %v", err)
		}
	})

	t.Run("TargetState sends no If-None-Match", func(t *testing.T) {
		s := &targetStateServer{answer: etagged}
		objs, err := s.start(t).Agents().TargetState(c, agentID, true)
		if err != nil {
			t.Fatal(err)
		}
		if inm, _ := s.last(t); inm != "" || len(objs) != 1 {
			t.Fatalf("sent If-None-Match %q, objects %+v", inm, objs)
		}
	})
}

// TestTargetStateIfChangedBroker runs conditional target-state requests against a real broker,
// every exchange checked against the API document.
func TestTargetStateIfChangedBroker(t *testing.T) {
	c := ctx(t)
	b := newBroker(t)
	admin := b.client(b.admin)
	created := must(admin.Agents().Create(c, client.CreateAgentRequest{Name: "edge", ClusterName: "eu"}))(t)
	agentID := created.Agent.ID
	agent := b.client(created.InitialPAK)
	gen := must(admin.Generators().Create(c, client.CreateGeneratorRequest{Name: "ci"}))(t).Generator
	st := must(admin.Stacks().Create(c, client.CreateStackRequest{Name: "web", GeneratorID: gen.ID}))(t)
	must(admin.Generators().Register(c, gen.ID, &agentID))(t)
	must(admin.Agents().AddTarget(c, agentID, st.ID))(t)
	cm := func(v string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: default}\ndata: {v: \"" + v + "\"}\n"
	}
	v1 := must(admin.Stacks().CreateDeploymentObject(c, st.ID, cm("1"), false))(t)

	first := must(agent.Agents().TargetStateIfChanged(c, agentID, true, ""))(t)
	if first.NotModified || len(first.Objects) != 1 || first.Objects[0].ID != v1.ID {
		t.Fatalf("first answer %+v", first)
	}
	if !strings.HasPrefix(first.ETag, `"`) || !strings.HasSuffix(first.ETag, `"`) || len(first.ETag) < 3 {
		t.Fatalf("ETag %q is not a strong entity tag", first.ETag)
	}

	again := must(agent.Agents().TargetStateIfChanged(c, agentID, true, first.ETag))(t)
	if !again.NotModified || again.Objects != nil || again.ETag != first.ETag {
		t.Fatalf("unchanged target state: %+v", again)
	}
	// The tag depends on the body alone: the admin reading the same target state gets a 304
	// for it too, and a request without If-None-Match still gets the whole body.
	if byAdmin := must(admin.Agents().TargetStateIfChanged(c, agentID, true, first.ETag))(t); !byAdmin.NotModified {
		t.Fatalf("admin's request with the agent's tag: %+v", byAdmin)
	}
	if objs := must(agent.Agents().TargetState(c, agentID, true))(t); len(objs) != 1 || objs[0].ID != v1.ID {
		t.Fatalf("unconditional target state %+v", objs)
	}

	v2 := must(admin.Stacks().CreateDeploymentObject(c, st.ID, cm("2"), false))(t)
	changed := must(agent.Agents().TargetStateIfChanged(c, agentID, true, first.ETag))(t)
	if changed.NotModified || len(changed.Objects) != 1 || changed.Objects[0].ID != v2.ID {
		t.Fatalf("after a new deployment object: %+v", changed)
	}
	if changed.ETag == "" || changed.ETag == first.ETag {
		t.Fatalf("ETag after a new deployment object %q, before %q", changed.ETag, first.ETag)
	}
	if now := must(agent.Agents().TargetStateIfChanged(c, agentID, true, changed.ETag))(t); !now.NotModified {
		t.Fatalf("the new tag: %+v", now)
	}
}

// TestTargetStateIfChangedHolds: the broker's Brokkr-Hold headers reach the caller, with a
// body and with 304 Not Modified alike.
func TestTargetStateIfChangedHolds(t *testing.T) {
	c := ctx(t)
	holds := []string{"s1; object=o1; reason=rollout", `s2; object=o2; reason=window; window="freeze"; until=2026-12-07T12:00:00Z`}
	srv := &targetStateServer{answer: func(w http.ResponseWriter, inm string) {
		w.Header().Set("ETag", `"t"`)
		for _, h := range holds {
			w.Header().Add("Brokkr-Hold", h)
		}
		if inm == `"t"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte("[]"))
	}}
	cl := srv.start(t)
	for _, etag := range []string{"", `"t"`} {
		res, err := cl.Agents().TargetStateIfChanged(c, uuid.New(), true, etag)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(res.Holds, "|") != strings.Join(holds, "|") || res.NotModified != (etag != "") {
			t.Fatalf("etag %q: %+v", etag, res)
		}
	}
}
