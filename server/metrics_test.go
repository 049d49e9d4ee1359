package server_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// requestSeries returns the label sets of brokkr_http_requests_total and
// brokkr_http_request_duration_seconds_count in the broker's /metrics.
func requestSeries(t *testing.T, e *env) map[string]bool {
	t.Helper()
	res, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "brokkr_http_requests_total{") ||
			strings.HasPrefix(line, "brokkr_http_request_duration_seconds_count{") {
			out[line[:strings.LastIndexByte(line, ' ')]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostileRequests sends n requests with random method tokens and random paths, some to
// known routes, some to none, straight to the broker.
func hostileRequests(t *testing.T, e *env, n int) {
	t.Helper()
	paths := []string{"/healthz", "/readyz", "/api/v1/agents", "/api/v1/agents/%s", "/%s", "/api/v1/%s/%s", "/docs/%s"}
	for i := range n {
		method := fmt.Sprintf("RANDOM%d", rand.Int64())
		if i%3 == 0 {
			method = http.MethodGet // random paths with a standard method too
		}
		p := paths[i%len(paths)]
		for strings.Contains(p, "%s") {
			p = strings.Replace(p, "%s", fmt.Sprintf("x%d", rand.Int64()), 1)
		}
		r, err := http.NewRequest(method, e.url+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
	}
}

// TestMetricsSeriesBoundedUnderRandomMethodsAndPaths: requests with arbitrary methods and
// paths, which anyone can send without a PAK, do not create series: methods outside the
// standard set are counted as OTHER, paths no route matches as "unmatched", and a second
// round of new random requests adds no series at all.
func TestMetricsSeriesBoundedUnderRandomMethodsAndPaths(t *testing.T) {
	e := newEnv(t)
	hostileRequests(t, e, 300)
	first := requestSeries(t, e)
	hostileRequests(t, e, 300)
	second := requestSeries(t, e)

	if len(second) > 40 {
		t.Errorf("%d series after 600 random requests", len(second))
	}
	for s := range second {
		if !first[s] {
			t.Errorf("new random requests created series %s", s)
		}
	}
	label := regexp.MustCompile(`(endpoint|method)="([^"]*)"`)
	randomPart := regexp.MustCompile(`x[0-9]`)
	standard := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
		"OPTIONS": true, "CONNECT": true, "TRACE": true, "OTHER": true}
	var sawOther, sawUnmatched bool
	for s := range second {
		for _, m := range label.FindAllStringSubmatch(s, -1) {
			switch {
			case m[1] == "method" && !standard[m[2]]:
				t.Errorf("method label %q in %s", m[2], s)
			case m[1] == "endpoint" && randomPart.MatchString(m[2]):
				t.Errorf("endpoint label %q is a request path, not a route", m[2])
			}
			sawOther = sawOther || m[1] == "method" && m[2] == "OTHER"
			sawUnmatched = sawUnmatched || m[1] == "endpoint" && m[2] == "unmatched"
		}
	}
	if !sawOther || !sawUnmatched {
		t.Errorf("no OTHER method (%v) or unmatched endpoint (%v) series: %v", sawOther, sawUnmatched, second)
	}
}
