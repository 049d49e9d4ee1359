package agent_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// outageProxy forwards TCP connections to the broker, and can refuse them for a while: to
// the agent, the broker is gone (connection refused) and then back on the same address.
type outageProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newOutageProxy(t *testing.T, target string) *outageProxy {
	p := &outageProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *outageProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *outageProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// down closes the listener and every open connection.
func (p *outageProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

// up listens on the same address again.
func (p *outageProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestBrokerGoneForMinutes takes the broker away from a running agent for three minutes: the
// agent leaves the cluster exactly as it was, and catches up with what changed meanwhile
// soon after the broker is back.
func TestBrokerGoneForMinutes(t *testing.T) {
	env := kubetest.Get(t)
	b := servertest.Start(t)
	ctx := context.Background()
	cluster := "outage-" + uuid.NewString()[:8]
	a := b.CreateAgent(t, "outage", cluster, true)
	ns := env.Namespace(t)
	stack := b.CreateStack(t, "outage", a.ID)
	cms := func(v string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: before, namespace: " + ns + "}\ndata: {v: \"" + v + "\"}\n"
	}
	v1 := b.Post(t, stack.ID, cms("1"), false)

	proxy := newOutageProxy(t, b.URL[len("http://"):])
	// The default polling period: failing loops back off to minutes.
	startAgent(t, b, a, cluster, env, func(c *config.AgentSettings) {
		c.BrokerURL, c.PollingInterval = "http://"+proxy.addr, config.DefaultAgent().Agent.PollingInterval
	})
	eventually(t, time.Minute, "the first version applied", func() bool {
		ev := eventFor(t, b, a.ID, v1.ID)
		return ev != nil && ev.Status == agent.EventSuccess
	})
	before, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "before", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	proxy.down()
	// Long enough for the agent's loops to back off to minutes: without the heartbeat's
	// short backoff waking them, catching up would take up to another two minutes.
	outage := 3 * time.Minute
	time.Sleep(outage / 2)
	v2 := b.Post(t, stack.ID, cms("2"), false) // posted while the agent cannot see it
	time.Sleep(outage / 2)
	during, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "before", metav1.GetOptions{})
	if err != nil || during.ResourceVersion != before.ResourceVersion || during.Data["v"] != "1" {
		t.Fatalf("the cluster changed while the broker was gone: %+v %v", during, err)
	}

	proxy.up()
	back := time.Now()
	eventually(t, 45*time.Second, "the agent to catch up", func() bool {
		ev := eventFor(t, b, a.ID, v2.ID)
		return ev != nil && ev.Status == agent.EventSuccess
	})
	t.Logf("caught up %s after the broker came back", time.Since(back).Round(time.Millisecond))
	after, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "before", metav1.GetOptions{})
	if err != nil || after.Data["v"] != "2" || after.UID != before.UID {
		t.Fatalf("after the outage: %+v %v", after, err)
	}
}
