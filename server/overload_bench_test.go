package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/internal/pak"
)

// BenchmarkOverload drives a broker process with simulated agents polling their target state
// at about twice the rate the broker can serve, and reports the latency of the requests it
// admitted, the share it refused with 429, and its resident memory. Everything runs on
// 127.0.0.1 for a bounded time; one run is one measurement:
//
//	go test -run '^$' -bench Overload -benchtime 1x -timeout 15m ./server/
//
// The environment shapes the run:
//
//	BROKKR_OVERLOAD_AGENTS    simulated agents, one keep-alive connection each (10000)
//	BROKKR_OVERLOAD_FACTOR    offered load as a multiple of the measured capacity (2)
//	BROKKR_OVERLOAD_SECONDS   length of the overload phase (30)
//	BROKKR_OVERLOAD_CAPACITY  capacity in requests/s, instead of measuring it first
//	BROKKR_OVERLOAD_BROKER    broker binary to run instead of one built from this tree
//	BROKKR_OVERLOAD_LOG       file for the broker's output (kept after the run)
//
// and the broker's own BROKKR__* variables (e.g. BROKKR__BROKER__MAX_INFLIGHT_REQUESTS) are
// passed through. Capacity is what 256 closed-loop clients get through in 5 s. Each simulated
// agent then polls every agents/(factor×capacity) seconds, never with more than one request
// outstanding (a late poll goes out at once, missed ticks are skipped, and ticks before the
// end of a Retry-After are skipped too, as brokkr-agent does), for the set time.
func BenchmarkOverload(b *testing.B) {
	agents := envInt(b, "BROKKR_OVERLOAD_AGENTS", 10000)
	factor := envFloat(b, "BROKKR_OVERLOAD_FACTOR", 2)
	phase := time.Duration(envInt(b, "BROKKR_OVERLOAD_SECONDS", 30)) * time.Second
	capacity := envFloat(b, "BROKKR_OVERLOAD_CAPACITY", 0)

	br := startBrokerProcess(b)
	ids := seedPollers(b, br, 100)

	if capacity <= 0 {
		capacity = measureCapacity(b, br, ids, 256, 5*time.Second)
	}
	interval := time.Duration(float64(agents) / (factor * capacity) * float64(time.Second))
	b.Logf("capacity %.0f req/s; %d agents polling every %v (offered %.0f req/s) for %v",
		capacity, agents, interval.Round(time.Millisecond), float64(agents)/interval.Seconds(), phase)

	rssIdle := br.rss()
	var rssPeak, goroutinesPeak, heapPeak, stackPeak atomic.Int64
	raise := func(v *atomic.Int64, x int64) {
		if x > v.Load() {
			v.Store(x)
		}
	}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			raise(&rssPeak, br.rss())
			g := br.gauges("go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes")
			raise(&goroutinesPeak, int64(g[0]))
			raise(&heapPeak, int64(g[1]))
			raise(&stackPeak, int64(g[2]))
		}
	}()

	b.ResetTimer()
	cpu0, self0 := br.cpu(), selfCPU()
	res := runPollers(br, ids, agents, interval, phase)
	cpu1, self1 := br.cpu(), selfCPU()
	b.StopTimer()
	close(stopSampling)
	<-sampled
	// Memory some time after the storm, the clients gone: does it come back down?
	time.Sleep(15 * time.Second)
	rssAfter := br.rss()

	admitted := res.admitted
	slices.Sort(admitted)
	pct := func(p float64) float64 {
		if len(admitted) == 0 {
			return 0
		}
		return float64(admitted[min(len(admitted)-1, int(p*float64(len(admitted))))]) / float64(time.Millisecond)
	}
	total := float64(len(admitted) + res.refused + res.failed)
	mib := func(kb int64) float64 { return float64(kb) / 1024 }
	b.ReportMetric(capacity, "capacity_rps")
	b.ReportMetric(total/phase.Seconds(), "sent_rps")
	b.ReportMetric(float64(len(admitted))/phase.Seconds(), "admitted_rps")
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(pct(1), "max_ms")
	b.ReportMetric(100*float64(res.refused)/max(total, 1), "refused_%")
	b.ReportMetric(100*float64(res.failed)/max(total, 1), "failed_%")
	b.ReportMetric(mib(rssIdle), "rss_idle_MiB")
	b.ReportMetric(mib(rssPeak.Load()), "rss_peak_MiB")
	b.ReportMetric(mib(rssAfter), "rss_after_MiB")
	b.ReportMetric(float64(goroutinesPeak.Load()), "goroutines_peak")
	b.ReportMetric(float64(heapPeak.Load())/(1<<20), "heap_inuse_peak_MiB")
	b.ReportMetric(float64(stackPeak.Load())/(1<<20), "stack_inuse_peak_MiB")
	b.ReportMetric((cpu1-cpu0).Seconds()/phase.Seconds(), "broker_cores")
	b.ReportMetric((self1-self0).Seconds()/phase.Seconds(), "loadgen_cores")
	if res.failed > 0 {
		b.Logf("failures (first of each kind): %v", res.failures)
	}
}

func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envFloat(b *testing.B, name string, def float64) float64 {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return f
}

// brokerProcess is a broker running as a process of its own, so that its memory is its own.
type brokerProcess struct {
	url   string
	admin string
	cmd   *exec.Cmd
}

func startBrokerProcess(b *testing.B) *brokerProcess {
	b.Helper()
	dir := b.TempDir()
	bin := os.Getenv("BROKKR_OVERLOAD_BROKER")
	if bin == "" {
		bin = filepath.Join(dir, "brokkr-broker")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/brokkr/brokkr/cmd/brokkr-broker").CombinedOutput(); err != nil {
			b.Fatalf("build broker: %v\n%s", err, out)
		}
	}
	key, hash, err := pak.Generate(pak.DefaultSettings())
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	logPath := os.Getenv("BROKKR_OVERLOAD_LOG")
	if logPath == "" {
		logPath = filepath.Join(dir, "broker.log")
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--listen", addr)
	cmd.Env = append(os.Environ(),
		"BROKKR__DATABASE__URL="+dbtest.URL(b),
		"BROKKR__BROKER__PAK_HASH="+hash,
		"BROKKR__BROKER__ADMIN_KEY_FILE="+filepath.Join(dir, "admin.key"),
		"BROKKR__LOG__LEVEL=error",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logFile.Close()
		if b.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				b.Logf("broker log:\n%s", tail(log, 4000))
			}
		}
	})
	br := &brokerProcess{url: "http://" + addr, admin: key, cmd: cmd}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(br.url + "/readyz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return br
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			b.Fatalf("broker exited before it was ready:\n%s", tail(log, 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatal("broker not ready after 60 s")
		}
	}
}

func tail(b []byte, n int) []byte { return b[max(0, len(b)-n):] }

// rss returns the broker's resident set size in KiB.
func (br *brokerProcess) rss() int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", br.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// cpu returns the CPU time the broker has used (user and system).
func (br *brokerProcess) cpu() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", br.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses: utime and stime are the
	// 12th and 13th of them, in clock ticks (100 per second on Linux).
	_, rest, _ := bytes.Cut(raw, []byte(") "))
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU returns the CPU time this process (the load generator) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gauges reads unlabelled values from the broker's /metrics (0 for those absent).
func (br *brokerProcess) gauges(names ...string) []float64 {
	out := make([]float64, len(names))
	c := http.Client{Timeout: 2 * time.Second}
	res, err := c.Get(br.url + "/metrics")
	if err != nil {
		return out
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		for i, name := range names {
			if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				out[i], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return out
}

// poller is a simulated agent: its request, and the keep-alive connection it is sent on.
// It speaks HTTP/1.1 over the connection itself rather than through net/http's transport,
// whose two goroutines per connection would make the load generator, which shares the
// machine, cost as much CPU as the broker it measures.
type poller struct {
	addr string
	req  []byte
	conn net.Conn
	r    *bufio.Reader
}

func (p *poller) close() {
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn = nil
	}
}

// poll sends the request; it returns the status and the Retry-After delay.
func (p *poller) poll() (int, time.Duration, error) {
	if p.conn == nil {
		conn, err := net.DialTimeout("tcp", p.addr, 30*time.Second)
		if err != nil {
			return 0, 0, err
		}
		p.conn, p.r = conn, bufio.NewReaderSize(conn, 4096)
	}
	_ = p.conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := p.conn.Write(p.req); err != nil {
		p.close()
		return 0, 0, err
	}
	res, err := http.ReadResponse(p.r, nil)
	if err != nil {
		p.close()
		return 0, 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if err != nil || res.Close {
		p.close()
	}
	after, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	return res.StatusCode, time.Duration(after) * time.Second, err
}

// seedPollers creates n agents that target one stack with one deployment object, and returns
// their requests.
func seedPollers(b *testing.B, br *brokerProcess, n int) [][]byte {
	b.Helper()
	ctx := context.Background()
	admin, err := client.New(br.url, client.WithPAK(br.admin))
	if err != nil {
		b.Fatal(err)
	}
	gen, err := admin.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "overload"})
	if err != nil {
		b.Fatal(err)
	}
	st, err := admin.Stacks().Create(ctx, client.CreateStackRequest{Name: "overload", GeneratorID: gen.Generator.ID})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.Stacks().CreateDeploymentObject(ctx, st.ID, cmYAML, false); err != nil {
		b.Fatal(err)
	}
	host := strings.TrimPrefix(br.url, "http://")
	out := make([][]byte, n)
	for i := range out {
		a, err := admin.Agents().Create(ctx, client.CreateAgentRequest{Name: fmt.Sprintf("poller-%d", i), ClusterName: "overload",
			GeneratorIDs: []uuid.UUID{gen.Generator.ID}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := admin.Agents().AddTarget(ctx, a.Agent.ID, st.ID); err != nil {
			b.Fatal(err)
		}
		out[i] = fmt.Appendf(nil, "GET /api/v1/agents/%s/target-state?mode=full HTTP/1.1\r\nHost: %s\r\n"+
			"Authorization: Bearer %s\r\nUser-Agent: brokkr-overload\r\nAccept: application/json\r\n\r\n",
			a.Agent.ID, host, a.InitialPAK)
	}
	// Every key once, so that the measurement starts with a warm auth cache.
	for _, req := range out {
		p := &poller{addr: host, req: req}
		status, _, err := p.poll()
		p.close()
		if err != nil || status != http.StatusOK {
			b.Fatalf("target-state: %d %v", status, err)
		}
	}
	return out
}

// measureCapacity returns the answered requests per second of workers closed-loop clients.
func measureCapacity(b *testing.B, br *brokerProcess, reqs [][]byte, workers int, d time.Duration) float64 {
	b.Helper()
	var ok atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			p := &poller{addr: strings.TrimPrefix(br.url, "http://"), req: reqs[w%len(reqs)]}
			defer p.close()
			for time.Now().Before(end) {
				if status, _, err := p.poll(); err == nil && status == http.StatusOK {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(ok.Load()) / d.Seconds()
}

type pollResults struct {
	admitted []time.Duration // latencies of 2xx answers
	refused  int             // 429 answers
	failed   int             // other answers and transport errors
	failures map[string]int
}

// runPollers runs agents simulated agents for d, each polling every interval with at most one
// request outstanding, each on a keep-alive connection of its own (as separate agent
// processes would be).
func runPollers(br *brokerProcess, reqs [][]byte, agents int, interval, d time.Duration) pollResults {
	start := time.Now()
	end := start.Add(d)
	var mu sync.Mutex
	res := pollResults{failures: map[string]int{}}
	var wg sync.WaitGroup
	for a := range agents {
		wg.Go(func() {
			p := &poller{addr: strings.TrimPrefix(br.url, "http://"), req: reqs[a%len(reqs)]}
			defer p.close()
			offset := time.Duration(rand.Int64N(int64(interval)))
			var lat []time.Duration
			refused, failed := 0, 0
			var failure string
			var notBefore time.Time // set by a Retry-After, which brokkr-agent honours
			for k := int64(0); ; k++ {
				due := start.Add(offset + time.Duration(k)*interval)
				for due.Before(notBefore) {
					k++
					due = due.Add(interval)
				}
				if due.After(end) {
					break
				}
				if wait := time.Until(due); wait > 0 {
					time.Sleep(wait)
				} else {
					k = int64(time.Since(start.Add(offset)) / interval) // skip missed ticks
				}
				t0 := time.Now()
				status, after, err := p.poll()
				took := time.Since(t0)
				notBefore = time.Now().Add(after)
				switch {
				case err == nil && status >= 200 && status < 300:
					lat = append(lat, took)
				case err == nil && status == http.StatusTooManyRequests:
					refused++
				default:
					failed++
					if err != nil {
						failure = err.Error()
					} else {
						failure = "status " + strconv.Itoa(status)
					}
				}
			}
			mu.Lock()
			res.admitted = append(res.admitted, lat...)
			res.refused += refused
			res.failed += failed
			if failure != "" {
				if len(failure) > 120 {
					failure = failure[:120]
				}
				res.failures[failure]++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return res
}
