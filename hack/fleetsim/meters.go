package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// meters measure the processes of a run over the load: the broker's CPU and RSS (with
// -broker-pid or -broker-cmd), PostgreSQL's CPU (with -database-url: the server's whole
// process tree) and the simulator's own, so that readers can tell the load generator's share
// of the machine.
type meters struct {
	brokerPID    int // 0: not measured
	broker, self *procSampler
	postmaster   int // 0: not measured
	pgStart      float64
	pgAt         time.Time
}

func newMeters(ctx context.Context, cfg Config) (*meters, error) {
	m := &meters{}
	pid := cfg.BrokerPID
	if pid == 0 && cfg.BrokerCmd != "" {
		var err error
		if pid, err = findPid(cfg.BrokerCmd); err != nil {
			return nil, err
		}
	}
	if pid != 0 {
		if _, err := newProcSampler(pid); err != nil {
			return nil, err
		}
		m.brokerPID = pid
	}
	if cfg.DatabaseURL != "" {
		pm, err := postmaster(ctx, cfg.DatabaseURL)
		switch {
		case err != nil && cfg.Pgbench:
			return nil, err
		case err != nil:
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "PostgreSQL's CPU not measured: %v\n", err)
			}
		default:
			m.postmaster = pm
		}
	}
	return m, nil
}

// start begins the measurements now, leaving the setup out, and samples RSS until ctx ends.
func (m *meters) start(ctx context.Context, wg *sync.WaitGroup) {
	if m.brokerPID != 0 {
		m.broker = sample(ctx, wg, m.brokerPID)
	}
	m.self = sample(ctx, wg, os.Getpid())
	if m.postmaster != 0 {
		if cpu, err := treeCPU(m.postmaster); err == nil {
			m.pgStart, m.pgAt = cpu, time.Now()
		} else {
			m.postmaster = 0
		}
	}
}

// report adds the measurements to r, with CPU per request and per poll.
func (m *meters) report(r *Report) {
	perWork := func(p *ProcReport) *ProcReport {
		if r.Requests > 0 {
			p.USPerRequest = round1(p.CPUS * 1e6 / float64(r.Requests))
		}
		if r.Polls > 0 {
			p.USPerPoll = round1(p.CPUS * 1e6 / float64(r.Polls))
		}
		return p
	}
	if m.broker != nil {
		r.Broker = perWork(m.broker.report())
	}
	if m.self != nil {
		r.Simulator = m.self.report()
	}
	if m.postmaster != 0 && !m.pgAt.IsZero() {
		if cpu, err := treeCPU(m.postmaster); err == nil {
			p := &ProcReport{PID: m.postmaster, CPUS: round3(cpu - m.pgStart)}
			p.CPUPercent = round1(100 * (cpu - m.pgStart) / time.Since(m.pgAt).Seconds())
			r.Postgres = perWork(p)
		}
	}
}

// sample starts sampling a process; nil when it cannot be read.
func sample(ctx context.Context, wg *sync.WaitGroup, pid int) *procSampler {
	s, err := newProcSampler(pid)
	if err != nil {
		return nil
	}
	wg.Go(func() { s.run(ctx) })
	return s
}
