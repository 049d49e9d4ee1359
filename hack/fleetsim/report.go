package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run; its JSON form (-json) is stable for scripts. Durations
// are milliseconds.
type Report struct {
	Agents    int     `json:"agents"`
	Channels  int     `json:"channels"`
	IntervalS float64 `json:"interval_s"`
	DurationS float64 `json:"duration_s"`
	Conns     int     `json:"conns"`
	CycleOps  string  `json:"cycle_ops"` // -ops
	ETag      bool    `json:"etag"`      // conditional target-state requests
	FileLimit uint64  `json:"open_files_limit"`
	SetupS    float64 `json:"setup_s"`
	// how the fleet's agents came to be
	Created  int        `json:"created"`
	FromFile int        `json:"from_fleet_file"`
	Rotated  int        `json:"rotated"`
	Ops      []OpReport `json:"ops"`
	Requests uint64     `json:"requests"`
	RatePerS float64    `json:"rate_per_s"`
	Errors   uint64     `json:"errors"`
	// Throttled counts the 429s, ThrottledNoRetryAfter those without a Retry-After.
	Throttled             uint64 `json:"throttled"`
	ThrottledNoRetryAfter uint64 `json:"throttled_no_retry_after"`
	NotModified           uint64 `json:"not_modified"`
	// Admitted are the latencies of every answer but 429 (304s included), Refused those of
	// the 429s.
	Admitted Latencies `json:"admitted"`
	Refused  Latencies `json:"refused"`
	// Polls are the agents' cycles that ran to the end; LatePolls took longer than the
	// interval. ScheduleLag is how late the simulator started the cycles it had due.
	Polls        uint64         `json:"polls"`
	PollsPerS    float64        `json:"polls_per_s"`
	OfferedPerS  float64        `json:"offered_polls_per_s"` // agents / interval
	MaxInflight  int            `json:"max_inflight"`
	LatePolls    uint64         `json:"late_polls"`
	ScheduleLag  Latencies      `json:"schedule_lag"`
	Distribution *DistReport    `json:"distribution,omitempty"`
	Flood        *FloodReport   `json:"flood,omitempty"`
	Broker       *ProcReport    `json:"broker,omitempty"`
	Postgres     *ProcReport    `json:"postgres,omitempty"`
	Simulator    *ProcReport    `json:"simulator,omitempty"`
	Pgbench      *PgBenchReport `json:"pgbench,omitempty"`
}

// Latencies are the percentiles of one histogram, in milliseconds.
type Latencies struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// OpReport is one operation: successful requests (304s included, NotModified of them) and
// their latency, 429s (ThrottledNoRetryAfter of them without a Retry-After) and errors.
type OpReport struct {
	Op                    string  `json:"op"`
	Count                 uint64  `json:"count"`
	NotModified           uint64  `json:"not_modified"`
	RatePerS              float64 `json:"rate_per_s"`
	Errors                uint64  `json:"errors"`
	Throttled             uint64  `json:"throttled"`
	ThrottledNoRetryAfter uint64  `json:"throttled_no_retry_after"`
	LastError             string  `json:"last_error,omitempty"`
	Latencies
}

// DistReport is the distribution of one deployment object to every simulated agent:
// latency from the POST to each agent's SUCCESS event; AllMs when the last one arrived.
type DistReport struct {
	Object   string    `json:"object"`
	Agents   int       `json:"agents"`
	Reported int       `json:"reported"`
	Complete bool      `json:"complete"`
	AllMs    float64   `json:"all_ms"`
	Latency  Latencies `json:"latency"`
}

// FloodReport is the heartbeat frames the broker accepted over the agents' channels.
type FloodReport struct {
	Frames     uint64  `json:"frames"`
	FramesPerS float64 `json:"frames_per_s"`
}

// ProcReport is a process over the load: CPU (100 = one core; CPUS seconds in all, and per
// request and per poll where they apply), RSS at the end and at its peak; HostBusyPercent is
// the whole machine (100 = every core busy). For PostgreSQL, the server's processes together
// and no RSS.
type ProcReport struct {
	PID             int     `json:"pid"`
	CPUPercent      float64 `json:"cpu_percent"`
	CPUS            float64 `json:"cpu_s"`
	USPerRequest    float64 `json:"cpu_us_per_request,omitempty"`
	USPerPoll       float64 `json:"cpu_us_per_poll,omitempty"`
	RSSMiB          float64 `json:"rss_mib"`
	PeakRSSMiB      float64 `json:"peak_rss_mib"`
	HostBusyPercent float64 `json:"host_busy_percent"`
}

func latencies(h *Histogram) Latencies {
	return Latencies{P50: ms(h.Percentile(50)), P90: ms(h.Percentile(90)), P99: ms(h.Percentile(99)), Max: ms(h.Max())}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// buildReport turns the run's measurements into a Report.
func buildReport(cfg Config, s *stats, elapsed time.Duration) Report {
	r := Report{Agents: cfg.Agents, Channels: cfg.channels(), IntervalS: cfg.Interval.Seconds(), DurationS: round1(elapsed.Seconds()),
		Conns: cfg.Conns, CycleOps: cfg.Ops.String(), ETag: !cfg.NoETag}
	for _, op := range opOrder {
		o := s.ops[op]
		noRA := o.throttledNA.Load()
		or := OpReport{Op: op, Count: o.hist.Count(), NotModified: o.notModified.Load(), Errors: o.errors.Load(),
			Throttled: o.throttled.Load() + noRA, ThrottledNoRetryAfter: noRA, Latencies: latencies(&o.hist)}
		or.RatePerS = round1(float64(or.Count) / elapsed.Seconds())
		if e, ok := o.lastErr.Load().(string); ok {
			or.LastError = e
		}
		r.Ops = append(r.Ops, or)
		r.Requests += or.Count + or.Errors + or.Throttled
		r.Errors += or.Errors
		r.Throttled += or.Throttled
		r.ThrottledNoRetryAfter += noRA
		r.NotModified += or.NotModified
	}
	r.RatePerS = round1(float64(r.Requests) / elapsed.Seconds())
	r.Admitted, r.Refused = latencies(&s.admitted), latencies(&s.refused)
	r.Polls, r.LatePolls, r.ScheduleLag = s.cycles.Load(), s.late.Load(), latencies(&s.lag)
	r.PollsPerS = round1(float64(r.Polls) / elapsed.Seconds())
	r.OfferedPerS, r.MaxInflight = round1(float64(cfg.Agents)/cfg.Interval.Seconds()), cfg.MaxInflight
	return r
}

// writeJSON writes the report as indented JSON.
func writeJSON(w io.Writer, r Report) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// writeTable writes the report as aligned text.
func writeTable(w io.Writer, r Report) error {
	conditional := "conditional"
	if !r.ETag {
		conditional = "unconditional"
	}
	fmt.Fprintf(w, "%d agents (%d with a channel), interval %gs, %gs measured, %d connections; setup %.1fs (%d created, %d from the fleet file, %d with a new key)\n",
		r.Agents, r.Channels, r.IntervalS, r.DurationS, r.Conns, r.SetupS, r.Created, r.FromFile, r.Rotated)
	fmt.Fprintf(w, "each cycle: %s (%s target state)\n", r.CycleOps, conditional)
	fmt.Fprintf(w, "%d requests, %.1f/s, %d errors, %d answered 429 (%d with Retry-After, %d without), %d answered 304\n",
		r.Requests, r.RatePerS, r.Errors, r.Throttled, r.Throttled-r.ThrottledNoRetryAfter, r.ThrottledNoRetryAfter, r.NotModified)
	fmt.Fprintf(w, "%d polls, %.1f/s of %.1f/s offered, %d late; cycles started late by p99 %.2f ms, max %.2f ms (at most %d at once)\n",
		r.Polls, r.PollsPerS, r.OfferedPerS, r.LatePolls, r.ScheduleLag.P99, r.ScheduleLag.Max, r.MaxInflight)
	fmt.Fprintf(w, "admitted (all but 429) p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms", r.Admitted.P50, r.Admitted.P90, r.Admitted.P99, r.Admitted.Max)
	if r.Throttled > 0 {
		fmt.Fprintf(w, "; 429s p50 %.2f ms, p99 %.2f ms", r.Refused.P50, r.Refused.P99)
	}
	fmt.Fprint(w, "\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tok\t304\tper s\terrors\t429 RA\t429 no RA\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", o.Op, o.Count, o.NotModified, o.RatePerS, o.Errors,
			o.Throttled-o.ThrottledNoRetryAfter, o.ThrottledNoRetryAfter, o.P50, o.P90, o.P99, o.Max)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range r.Ops {
		if o.LastError != "" {
			fmt.Fprintf(w, "last %s error: %s\n", o.Op, o.LastError)
		}
	}
	if d := r.Distribution; d != nil {
		state := fmt.Sprintf("all %d agents in %.0f ms", d.Agents, d.AllMs)
		if !d.Complete {
			state = fmt.Sprintf("INCOMPLETE: %d of %d agents", d.Reported, d.Agents)
		}
		fmt.Fprintf(w, "\ndistribution: %s; per agent p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
			state, d.Latency.P50, d.Latency.P90, d.Latency.P99, d.Latency.Max)
	}
	if f := r.Flood; f != nil {
		fmt.Fprintf(w, "channel flood: %d heartbeat frames, %.0f/s\n", f.Frames, f.FramesPerS)
	}
	writeProcs(w, r)
	return nil
}

// writeProcs writes the processes' lines of the table.
func writeProcs(w io.Writer, r Report) {
	fmt.Fprintln(w)
	if b := r.Broker; b != nil {
		fmt.Fprintf(w, "broker pid %d: CPU %.1f %% of one core (%.2f s: %.1f µs per request, %.1f µs per poll), RSS %.1f MiB (peak %.1f MiB); host CPU busy %.1f %%\n",
			b.PID, b.CPUPercent, b.CPUS, b.USPerRequest, b.USPerPoll, b.RSSMiB, b.PeakRSSMiB, b.HostBusyPercent)
	}
	if p := r.Postgres; p != nil {
		fmt.Fprintf(w, "PostgreSQL pid %d and its processes: CPU %.1f %% of one core (%.2f s: %.1f µs per request, %.1f µs per poll)\n",
			p.PID, p.CPUPercent, p.CPUS, p.USPerRequest, p.USPerPoll)
	}
	if s := r.Simulator; s != nil {
		fmt.Fprintf(w, "simulator pid %d: CPU %.1f %% of one core (%.2f s), RSS %.1f MiB (peak %.1f MiB)\n",
			s.PID, s.CPUPercent, s.CPUS, s.RSSMiB, s.PeakRSSMiB)
	}
	if p := r.Pgbench; p != nil {
		fmt.Fprintf(w, "\npgbench, one poll's SQL (target state in full + heartbeat, prepared), %d clients, %.0fs, as %d agents: %d polls, %.1f/s, %d failed, latency average %.3f ms\n",
			p.Clients, p.DurationS, p.Agents, p.Polls, p.PollsPerS, p.Failed, p.LatencyAvgMs)
		fmt.Fprintf(w, "PostgreSQL CPU per poll: %.1f µs under pgbench", p.PostgresUSPerPoll)
		if r.Broker != nil {
			fmt.Fprintf(w, "; broker CPU per poll under the load: %.1f µs", r.Broker.USPerPoll)
		}
		fmt.Fprintln(w)
	}
}
