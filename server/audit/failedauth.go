package audit

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/brokkr/brokkr/db"
)

// Rate limit of auth.failed entries.
const (
	defaultFailedAuthPerMinute = 30
	failedAuthWindow           = time.Minute
	// failedAuthMaxAddresses bounds the addresses tracked at once; failures from further
	// addresses share one window (and one limit) until tracked windows end.
	failedAuthMaxAddresses = 1024
)

// failedAuthKey is the address failed authentications are counted under: the connection's
// peer address, not X-Forwarded-For, which the client writes and could change at every
// request. An IPv6 address counts by its /64, the block one host usually holds.
func failedAuthKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// failedAuthCount is one address's failed authentications in its current window, which
// starts at its first failure and lasts failedAuthWindow.
type failedAuthCount struct {
	start       time.Time
	limit       int
	written     int
	suppressed  int
	first, last time.Time // of the suppressed failures
}

// failedAuthLimiter lets through the first limit auth.failed entries of each address per
// window and counts the rest. When a window with suppressed failures ends, one auth.failed
// entry summarises them (details: reason "rate_limited", suppressed, first_at, last_at,
// per_minute; ip_address: the address). At most max addresses are tracked: failures from
// other addresses while the table is full share one window, whose summary has no ip_address
// and untracked_addresses: true. Memory is thus bounded whatever the number of addresses.
type failedAuthLimiter struct {
	mu      sync.Mutex
	now     func() time.Time
	max     int
	windows map[string]*failedAuthCount
	other   *failedAuthCount // failures of addresses beyond max
	sweptAt time.Time        // last sweep made by admit
}

func newFailedAuthLimiter(max int) *failedAuthLimiter {
	return &failedAuthLimiter{now: time.Now, max: max, windows: map[string]*failedAuthCount{}}
}

// admit counts one failure of addr and reports whether its entry is written. It also returns
// the summaries of windows that ended and were found on the way.
func (l *failedAuthLimiter) admit(addr string, limit int) (bool, []db.AuditRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var summaries []db.AuditRecord
	end := func(key string, c *failedAuthCount) {
		if c.suppressed > 0 {
			summaries = append(summaries, failedAuthSummary(key, c))
		}
	}
	c := l.windows[addr]
	if c != nil && now.Sub(c.start) >= failedAuthWindow {
		end(addr, c)
		delete(l.windows, addr)
		c = nil
	}
	if c == nil && len(l.windows) >= l.max && now.Sub(l.sweptAt) >= time.Second {
		// Full: make room by ending what ended (at most once a second, the table is long).
		l.sweptAt = now
		summaries = append(summaries, l.sweepLocked(now, false)...)
	}
	if c == nil {
		if len(l.windows) < l.max {
			c = &failedAuthCount{start: now, limit: limit}
			l.windows[addr] = c
		} else {
			if l.other != nil && now.Sub(l.other.start) >= failedAuthWindow {
				end("", l.other)
				l.other = nil
			}
			if l.other == nil {
				l.other = &failedAuthCount{start: now, limit: limit}
			}
			c = l.other
		}
	}
	if c.written < c.limit {
		c.written++
		return true, summaries
	}
	if c.suppressed == 0 {
		c.first = now
	}
	c.suppressed++
	c.last = now
	return false, summaries
}

// sweep removes the windows that ended (every window when final) and returns the summaries
// of those with suppressed failures.
func (l *failedAuthLimiter) sweep(final bool) []db.AuditRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sweepLocked(l.now(), final)
}

func (l *failedAuthLimiter) sweepLocked(now time.Time, final bool) []db.AuditRecord {
	var out []db.AuditRecord
	for k, c := range l.windows {
		if final || now.Sub(c.start) >= failedAuthWindow {
			if c.suppressed > 0 {
				out = append(out, failedAuthSummary(k, c))
			}
			delete(l.windows, k)
		}
	}
	if c := l.other; c != nil && (final || now.Sub(c.start) >= failedAuthWindow) {
		if c.suppressed > 0 {
			out = append(out, failedAuthSummary("", c))
		}
		l.other = nil
	}
	return out
}

// failedAuthSummary is the auth.failed entry that stands for the suppressed failures of a
// window; addr "" is the shared window of untracked addresses.
func failedAuthSummary(addr string, c *failedAuthCount) db.AuditRecord {
	details := map[string]any{
		"reason": "rate_limited", "suppressed": c.suppressed, "per_minute": c.limit,
		"first_at": c.first.UTC(), "last_at": c.last.UTC(),
	}
	r := db.AuditRecord{Timestamp: c.last, ActorType: ActorSystem, Action: AuthFailed, ResourceType: ResourceSystem}
	if addr == "" {
		details["untracked_addresses"] = true
	} else {
		a := addr
		r.IPAddress = &a
	}
	r.Details, _ = json.Marshal(details)
	return r
}
