package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/brokkr/brokkr/client"
)

// targetFetcher asks for agents' full target state over the shared connection pool, as
// brokkr-agent does: conditionally (If-None-Match with the ETag of the last answer the agent
// acted on) unless conditional is off. A broker without ETags answers 200 every time.
type targetFetcher struct {
	base        string // broker root without a trailing slash
	hc          *http.Client
	conditional bool
}

// fetch returns the target state, or notModified when the broker answered 304 to etag. A
// non-2xx answer is a *client.Error, as the typed client returns it.
func (f *targetFetcher) fetch(ctx context.Context, a *simAgent, etag string) (objs []client.DeploymentObject, newTag string, notModified bool, err error) {
	path := "/agents/" + a.id.String() + "/target-state"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/api/v1"+path+"?mode=full", nil)
	if err != nil {
		return nil, "", false, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Authorization", "Bearer "+a.pak)
	if f.conditional && etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, "", false, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, "", false, fmt.Errorf("GET %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return nil, resp.Header.Get("ETag"), true, nil
	case resp.StatusCode != http.StatusOK:
		return nil, "", false, answerError(path, resp, body)
	}
	if err := json.Unmarshal(body, &objs); err != nil {
		return nil, "", false, fmt.Errorf("decode GET %s response: %w", path, err)
	}
	return objs, resp.Header.Get("ETag"), false, nil
}

// answerError is the *client.Error of a refused request.
func answerError(path string, resp *http.Response, body []byte) *client.Error {
	e := &client.Error{StatusCode: resp.StatusCode, Method: http.MethodGet, Path: path,
		RequestID: resp.Header.Get("X-Request-Id"), RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	var b client.ErrorBody
	if json.Unmarshal(body, &b) == nil && (b.Code != "" || b.Message != "") {
		e.Code, e.Message = b.Code, b.Message
	} else {
		e.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	return e
}

// retryAfter reads a Retry-After header as the typed client does: delay seconds or an HTTP
// date; 0 when absent or unreadable.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
