package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/brokkr/brokkr/agent/internal/backoff"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
)

// timestampRoom is the room a line's timestamp prefix takes ahead of its text
// ("2006-01-02T15:04:05.000000000Z07:00 ").
const timestampRoom = 64

// containerRef names one run of one container: a restarted container is a new run, with a
// log of its own.
type containerRef struct {
	namespace, pod, container string
	uid                       types.UID
	// identity is the run's container ID, else its restart count.
	identity string
}

// cursor is the last line consumed from a container's log (sent or dropped): its timestamp
// and how many lines carrying exactly that timestamp were consumed.
type cursor struct {
	ts time.Time
	n  int
}

func (c *cursor) advance(ts time.Time) {
	if ts.Equal(c.ts) {
		c.n++
		return
	}
	c.ts, c.n = ts, 1
}

// resume skips what a reopened stream repeats: every line before the cursor, and the first
// n lines at its timestamp. It ends at the first line past the cursor.
type resume struct {
	at     cursor
	seen   int
	active bool
}

func (r *resume) skip(ts time.Time) bool {
	if !r.active {
		return false
	}
	if ts.Before(r.at.ts) {
		return true
	}
	if ts.Equal(r.at.ts) {
		r.seen++
		if r.seen <= r.at.n {
			return true
		}
	}
	r.active = false
	return false
}

// gap is a run of dropped lines: since the timestamp of the first, and how many.
type gap struct {
	since time.Time
	count uint64
}

func (g *gap) add(since time.Time, n uint64) {
	if g.count == 0 || since.Before(g.since) {
		g.since = since
	}
	g.count += n
}

// gapReasons are the reasons of log_gap frames, in the order of follower.gaps.
var gapReasons = [...]string{client.GapRateLimit, client.GapBufferFull, client.GapDisconnected}

const (
	gapRate = iota
	gapFull
	gapDown
)

// window is the current second of a container's rate limit.
type window struct {
	start   time.Time
	sent    int
	dropped uint64
	since   time.Time
}

// logItem is one line read from a stream, or the end of the stream (err set).
type logItem struct {
	ts   time.Time
	text string
	cut  bool
	err  error
}

// follower streams one run of one container to the uplink.
type follower struct {
	l     *Logs
	ref   containerRef
	stack uuid.UUID
	// pos is the last line consumed; a run that started before the agent starts at the
	// agent's start, so that what an earlier agent process sent is not sent again.
	pos     cursor
	win     window
	gaps    [len(gapReasons)]gap
	timer   *time.Timer
	timerAt time.Time
}

func newFollower(l *Logs, ref containerRef, stack uuid.UUID) *follower {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &follower{l: l, ref: ref, stack: stack, timer: t}
}

// run follows the container until its run ended and its log was read to the end, it was
// replaced by a newer run, its pod is gone or ctx ends. A stream that breaks while the
// container runs (apiserver or kubelet restarted, connection lost) is opened again from the
// last line consumed, and what it repeats is skipped, so no line is sent twice.
func (f *follower) run(ctx context.Context) {
	defer f.timer.Stop()
	defer f.finish()
	retries := backoff.Exponential(f.l.retryMin, f.l.retryMax)
	failures := 0
	for {
		stream, err := f.l.open(ctx, f.ref.namespace, f.ref.pod, f.options())
		clean := false
		if err == nil {
			var lines int
			lines, clean, err = f.consume(ctx, stream)
			if lines > 0 {
				retries, failures = backoff.Exponential(f.l.retryMin, f.l.retryMax), 0
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			log := f.l.log.Debug
			if failures == 5 {
				log = f.l.log.Warn
			}
			log("pod log stream failed", logx.Err(err), "namespace", f.ref.namespace, "pod", f.ref.pod,
				"container", f.ref.container, "failures", failures)
		}
		// The run's status takes a moment to reach the apiserver: wait before asking whether
		// the container still runs, so that a run that just ended is not read again.
		if !f.sleep(ctx, backoff.Spread(retries.Step(), 0.1)) {
			return
		}
		switch f.l.status(f.ref) {
		case runGone, runReplaced:
			return
		case runEnded:
			if clean || failures >= 5 {
				return
			}
		}
	}
}

// options are the log request of the next stream: from the start of the run, or from the
// second of the last line consumed (sinceTime has whole seconds; resume skips the rest).
func (f *follower) options() *corev1.PodLogOptions {
	o := &corev1.PodLogOptions{Container: f.ref.container, Follow: true, Timestamps: true}
	if !f.pos.ts.IsZero() {
		o.SinceTime = &metav1.Time{Time: f.pos.ts}
	}
	return o
}

// consume reads one stream until it ends or ctx ends. It returns how many lines the stream
// delivered past the cursor and whether it ended cleanly (EOF).
func (f *follower) consume(ctx context.Context, stream io.ReadCloser) (lines int, clean bool, err error) {
	items := make(chan logItem, 64)
	done := make(chan struct{})
	go f.read(stream, items, done)
	defer func() {
		close(done)
		_ = stream.Close()
	}()
	skip := resume{at: f.pos, active: !f.pos.ts.IsZero()}
	for {
		select {
		case <-ctx.Done():
			return lines, false, ctx.Err()
		case <-f.timer.C:
			f.timerAt = time.Time{}
			f.tick()
		case it := <-items:
			if it.err != nil {
				if errors.Is(it.err, io.EOF) {
					return lines, true, nil
				}
				return lines, false, it.err
			}
			if skip.skip(it.ts) {
				continue
			}
			lines++
			f.handle(it)
		}
	}
}

// read turns the stream into items until it ends or done is closed.
func (f *follower) read(stream io.Reader, items chan<- logItem, done <-chan struct{}) {
	r := bufio.NewReaderSize(stream, 32<<10)
	for {
		raw, cut, err := readLine(r, f.l.lineMax+timestampRoom)
		// A last line without its newline is whole only at a clean end: after a break it is
		// read again, whole, from the reopened stream.
		if len(raw) > 0 && (err == nil || errors.Is(err, io.EOF)) {
			select {
			case items <- f.item(raw, cut):
			case <-done:
				return
			}
		}
		if err != nil {
			select {
			case items <- logItem{err: err}:
			case <-done:
			}
			return
		}
	}
}

// item splits the timestamp off a raw line and bounds its text.
func (f *follower) item(raw []byte, cut int) logItem {
	ts, text := splitTimestamp(raw)
	if ts.IsZero() {
		ts = f.l.now()
	}
	if len(text) > f.l.lineMax {
		cut += len(text) - f.l.lineMax
		text = text[:f.l.lineMax]
	}
	if cut > 0 {
		// Do not leave half a character at the cut.
		for i := len(text) - 1; i >= 0 && i >= len(text)-utf8.UTFMax; i-- {
			if utf8.RuneStart(text[i]) {
				if !utf8.FullRune(text[i:]) {
					cut += len(text) - i
					text = text[:i]
				}
				break
			}
		}
	}
	s := strings.ToValidUTF8(strings.ReplaceAll(string(text), "\x00", ""), "\uFFFD")
	if cut > 0 {
		s += fmt.Sprintf(" [… %d bytes cut]", cut)
	}
	return logItem{ts: ts, text: s, cut: cut > 0}
}

// readLine reads one line without its newline, keeping at most limit bytes; cut counts the
// bytes dropped beyond. A last line without newline comes with io.EOF.
func readLine(r *bufio.Reader, limit int) (line []byte, cut int, err error) {
	for {
		frag, err := r.ReadSlice('\n')
		n := len(frag)
		if err == nil {
			n-- // the newline
		}
		take := max(min(n, limit-len(line)), 0)
		line = append(line, frag[:take]...)
		cut += n - take
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, cut, err
		}
	}
}

// splitTimestamp splits the RFC 3339 timestamp the kubelet puts ahead of each line
// (timestamps=true); a line without one comes back whole with a zero time.
func splitTimestamp(b []byte) (time.Time, []byte) {
	i := bytes.IndexByte(b, ' ')
	if i <= 0 || i > timestampRoom {
		return time.Time{}, b
	}
	ts, err := time.Parse(time.RFC3339Nano, string(b[:i]))
	if err != nil {
		return time.Time{}, b
	}
	return ts, b[i+1:]
}

// handle consumes one new line: within the container's rate it is offered to the uplink,
// beyond it is counted for a rate_limit gap.
func (f *follower) handle(it logItem) {
	f.pos.advance(it.ts)
	if it.cut {
		f.l.metrics.LogLineCut()
	}
	now := f.l.now()
	if now.Sub(f.win.start) >= time.Second {
		f.closeWindow()
		f.win = window{start: now}
	}
	if f.win.sent >= f.l.perSecond {
		if f.win.dropped == 0 {
			f.win.since = it.ts
		}
		f.win.dropped++
		f.l.metrics.LogLinesDropped(client.GapRateLimit, 1)
		f.arm(f.win.start.Add(time.Second).Sub(now))
		return
	}
	f.win.sent++
	if !f.flushGaps() {
		f.drop(it.ts)
		return
	}
	m, err := client.NewWSMessage(client.WSPodLogLine, client.PodLogLine{
		AgentID: f.l.opts.AgentID, StackID: f.stack, Namespace: f.ref.namespace, Pod: f.ref.pod,
		Container: f.ref.container, TS: it.ts.UTC(), Line: it.text,
	})
	if err == nil && f.l.opts.Uplink.Offer(m) {
		f.l.metrics.LogLinesSent(1)
		return
	}
	f.drop(it.ts)
}

// drop counts a line the uplink did not take: buffer_full while the channel is up,
// disconnected while it is down. The gap is sent once frames go through again.
func (f *follower) drop(ts time.Time) {
	reason := gapFull
	if f.l.opts.Connected != nil && !f.l.opts.Connected() {
		reason = gapDown
	}
	f.gaps[reason].add(ts, 1)
	f.l.metrics.LogLinesDropped(gapReasons[reason], 1)
	f.arm(time.Second)
}

// closeWindow turns the lines the ending second dropped into a rate_limit gap.
func (f *follower) closeWindow() {
	if f.win.dropped > 0 {
		f.gaps[gapRate].add(f.win.since, f.win.dropped)
		f.win.dropped = 0
	}
}

// tick closes a window that is over and sends pending gaps; it runs when the timer fires,
// so gaps go out even when the container falls silent.
func (f *follower) tick() {
	if !f.win.start.IsZero() && f.l.now().Sub(f.win.start) >= time.Second {
		f.closeWindow()
	}
	if !f.flushGaps() {
		f.arm(time.Second)
	}
}

// flushGaps offers the pending gaps, oldest first, and reports whether none is left.
func (f *follower) flushGaps() bool {
	for {
		next := -1
		for i := range f.gaps {
			if f.gaps[i].count > 0 && (next < 0 || f.gaps[i].since.Before(f.gaps[next].since)) {
				next = i
			}
		}
		if next < 0 {
			return true
		}
		g := f.gaps[next]
		m, err := client.NewWSMessage(client.WSLogGap, client.LogGap{
			AgentID: f.l.opts.AgentID, StackID: f.stack, SinceTS: g.since.UTC(), DroppedCount: g.count, Reason: gapReasons[next],
		})
		if err != nil || !f.l.opts.Uplink.Offer(m) {
			return false
		}
		f.gaps[next] = gap{}
	}
}

// arm makes the timer fire within d.
func (f *follower) arm(d time.Duration) {
	at := f.l.now().Add(d)
	if !f.timerAt.IsZero() && !f.timerAt.After(at) {
		return
	}
	f.timerAt = at
	f.timer.Reset(d)
}

// sleep waits d, sending gaps meanwhile; it reports false when ctx ended.
func (f *follower) sleep(ctx context.Context, d time.Duration) bool {
	wake := time.NewTimer(d)
	defer wake.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-wake.C:
			return true
		case <-f.timer.C:
			f.timerAt = time.Time{}
			f.tick()
		}
	}
}

// finish reports what the follower still owes: the last window's drops and pending gaps
// (best effort: a full uplink loses them).
func (f *follower) finish() {
	f.closeWindow()
	f.flushGaps()
}
