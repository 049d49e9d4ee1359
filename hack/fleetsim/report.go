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
	Agents       int          `json:"agents"`
	Channels     int          `json:"channels"`
	IntervalS    float64      `json:"interval_s"`
	DurationS    float64      `json:"duration_s"`
	Conns        int          `json:"conns"`
	SetupS       float64      `json:"setup_s"`
	Ops          []OpReport   `json:"ops"`
	Requests     uint64       `json:"requests"`
	RatePerS     float64      `json:"rate_per_s"`
	Errors       uint64       `json:"errors"`
	Throttled    uint64       `json:"throttled"`
	Distribution *DistReport  `json:"distribution,omitempty"`
	Flood        *FloodReport `json:"flood,omitempty"`
	Broker       *ProcReport  `json:"broker,omitempty"`
}

// Latencies are the percentiles of one histogram, in milliseconds.
type Latencies struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// OpReport is one operation: successful requests and their latency, 429s and errors.
type OpReport struct {
	Op        string  `json:"op"`
	Count     uint64  `json:"count"`
	RatePerS  float64 `json:"rate_per_s"`
	Errors    uint64  `json:"errors"`
	Throttled uint64  `json:"throttled"`
	LastError string  `json:"last_error,omitempty"`
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

// ProcReport is the broker process over the run: CPU (100 = one core), RSS at the end and
// at its peak; HostBusyPercent is the whole machine (100 = every core busy).
type ProcReport struct {
	PID             int     `json:"pid"`
	CPUPercent      float64 `json:"cpu_percent"`
	RSSMiB          float64 `json:"rss_mib"`
	PeakRSSMiB      float64 `json:"peak_rss_mib"`
	HostBusyPercent float64 `json:"host_busy_percent"`
}

func latencies(h *Histogram) Latencies {
	return Latencies{P50: ms(h.Percentile(50)), P90: ms(h.Percentile(90)), P99: ms(h.Percentile(99)), Max: ms(h.Max())}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// buildReport turns the run's measurements into a Report.
func buildReport(cfg Config, s *stats, elapsed time.Duration) Report {
	r := Report{Agents: cfg.Agents, Channels: cfg.channels(), IntervalS: cfg.Interval.Seconds(), DurationS: round1(elapsed.Seconds()), Conns: cfg.Conns}
	for _, op := range opOrder {
		o := s.ops[op]
		or := OpReport{Op: op, Count: o.hist.Count(), Errors: o.errors.Load(), Throttled: o.throttled.Load(), Latencies: latencies(&o.hist)}
		or.RatePerS = round1(float64(or.Count) / elapsed.Seconds())
		if e, ok := o.lastErr.Load().(string); ok {
			or.LastError = e
		}
		r.Ops = append(r.Ops, or)
		r.Requests += or.Count + or.Errors + or.Throttled
		r.Errors += or.Errors
		r.Throttled += or.Throttled
	}
	r.RatePerS = round1(float64(r.Requests) / elapsed.Seconds())
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
	fmt.Fprintf(w, "%d agents (%d with a channel), interval %gs, %gs measured, %d connections; setup %.1fs\n",
		r.Agents, r.Channels, r.IntervalS, r.DurationS, r.Conns, r.SetupS)
	fmt.Fprintf(w, "%d requests, %.1f/s, %d errors, %d answered 429\n\n", r.Requests, r.RatePerS, r.Errors, r.Throttled)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tok\tper s\terrors\t429\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", o.Op, o.Count, o.RatePerS, o.Errors, o.Throttled, o.P50, o.P90, o.P99, o.Max)
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
	if b := r.Broker; b != nil {
		fmt.Fprintf(w, "broker pid %d: CPU %.1f %% of one core, RSS %.1f MiB (peak %.1f MiB); host CPU busy %.1f %%\n",
			b.PID, b.CPUPercent, b.RSSMiB, b.PeakRSSMiB, b.HostBusyPercent)
	}
	return nil
}
