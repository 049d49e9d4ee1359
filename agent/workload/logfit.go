package workload

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// The log tails travel as a JSON object inside a JSON string of the result body, so one
// entry "<key>": "<tail>" costs the length of its text escaped twice. Both escapings work
// character by character, which makes the body size the size with an empty object plus
// the entries' costs plus one byte per separating comma.

// jsonString returns s encoded as a JSON string, as encoding/json writes it.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

// entryCost is the number of bytes the entry key: value adds to the result body.
func entryCost(key, value string) int {
	return len(jsonString(jsonString(key)+":"+jsonString(value))) - 2
}

func truncationMarker(kept, total int) string {
	return fmt.Sprintf("[truncated: the last %d of %d bytes]\n", kept, total)
}

// cutTail returns the end of value, at most kept bytes starting on a character boundary.
func cutTail(value string, kept int) string {
	start := len(value) - kept
	if start < 0 {
		start = 0
	}
	for start < len(value) && !utf8.RuneStart(value[start]) {
		start++
	}
	return value[start:]
}

// truncateEntry returns the longest marked tail of value whose entry costs at most budget,
// preferring to start on a line boundary when that keeps at least half of the tail. ok is
// false when not even the marker fits.
func truncateEntry(key, value string, budget int) (string, int, bool) {
	build := func(kept int) string {
		t := cutTail(value, kept)
		return truncationMarker(len(t), len(value)) + t
	}
	if entryCost(key, build(0)) > budget {
		return "", 0, false
	}
	lo, hi := 0, len(value) // invariant: build(lo) fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if entryCost(key, build(mid)) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	t := cutTail(value, lo)
	if len(t) < len(value) && len(t) > 0 && value[len(value)-len(t)-1] != '\n' {
		if nl := strings.IndexByte(t, '\n'); nl >= 0 && nl+1 < len(t) && nl+1 <= len(t)/2 {
			t = t[nl+1:]
		}
	}
	v := truncationMarker(len(t), len(value)) + t
	return v, entryCost(key, v), true
}

// fitLogs returns logs cut to add at most budget bytes to the result body. Entries share the
// budget fairly: the ones that fit their share stay whole, the others keep the end of their
// text under a "[truncated: ...]" first line; an entry for which not even that marker fits is
// left empty, or dropped when even its key does not fit.
func fitLogs(logs map[string]string, budget int) map[string]string {
	if len(logs) == 0 {
		return logs
	}
	type entry struct {
		key, value string
		cost       int
	}
	entries := make([]entry, 0, len(logs))
	total := len(logs) - 1 // commas
	for k, v := range logs {
		c := entryCost(k, v)
		entries = append(entries, entry{key: k, value: v, cost: c})
		total += c
	}
	if total <= budget {
		return logs
	}
	sort.Slice(entries, func(a, b int) bool {
		if entries[a].cost != entries[b].cost {
			return entries[a].cost < entries[b].cost
		}
		return entries[a].key < entries[b].key
	})
	remaining := budget - (len(entries) - 1)
	out := make(map[string]string, len(entries))
	for n, e := range entries {
		share := remaining / (len(entries) - n)
		if e.cost <= share {
			out[e.key] = e.value
			remaining -= e.cost
			continue
		}
		if v, c, ok := truncateEntry(e.key, e.value, share); ok {
			out[e.key] = v
			remaining -= c
			continue
		}
		if c := entryCost(e.key, ""); c <= share {
			out[e.key] = ""
			remaining -= c
		}
	}
	return out
}
