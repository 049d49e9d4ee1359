package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on every Linux platform Go runs on).
const clockTicks = 100

// procSampler samples a process's CPU time and RSS, and the host's busy CPU, once a second.
type procSampler struct {
	pid      int
	startCPU float64 // seconds of CPU (user + system)
	startAt  time.Time
	hostBusy [2]uint64 // busy and total jiffies at the start
	peakRSS  int64
	lastRSS  int64
}

// findPid returns the pid of the one process whose name (comm) is name.
func findPid(name string) (int, error) {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	var found []int
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if pid != os.Getpid() {
			found = append(found, pid)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("no process named %q", name)
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("%d processes named %q (%v): pass -broker-pid", len(found), name, found)
}

func newProcSampler(pid int) (*procSampler, error) {
	p := &procSampler{pid: pid}
	cpu, rss, err := p.read()
	if err != nil {
		return nil, err
	}
	p.startCPU, p.startAt, p.peakRSS, p.lastRSS = cpu, time.Now(), rss, rss
	p.hostBusy[0], p.hostBusy[1] = hostCPU()
	return p, nil
}

// run samples until ctx ends.
func (p *procSampler) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, rss, err := p.read(); err == nil {
				p.lastRSS, p.peakRSS = rss, max(p.peakRSS, rss)
			}
		}
	}
}

// report is the CPU share since the start (100 % = one core) and the RSS figures.
func (p *procSampler) report() *ProcReport {
	cpu, rss, err := p.read()
	r := &ProcReport{PID: p.pid, PeakRSSMiB: mib(p.peakRSS), RSSMiB: mib(p.lastRSS)}
	if err == nil {
		elapsed := time.Since(p.startAt).Seconds()
		r.CPUPercent = round1(100 * (cpu - p.startCPU) / elapsed)
		r.CPUS = round3(cpu - p.startCPU)
		r.RSSMiB, r.PeakRSSMiB = mib(rss), mib(max(p.peakRSS, rss))
	}
	busy, total := hostCPU()
	if total > p.hostBusy[1] {
		r.HostBusyPercent = round1(100 * float64(busy-p.hostBusy[0]) / float64(total-p.hostBusy[1]))
	}
	return r
}

// read returns the process's CPU seconds and resident set in bytes.
func (p *procSampler) read() (float64, int64, error) {
	f, err := statFields(p.pid)
	if err != nil {
		return 0, 0, err
	}
	pages, _ := strconv.ParseInt(f[21], 10, 64) // field 24
	return ticks(f[11], f[12]), pages * int64(os.Getpagesize()), nil
}

// statFields returns the fields of /proc/<pid>/stat after the command name (which is in
// parentheses and may hold spaces): field n of proc(5) is index n-3.
func statFields(pid int) ([]string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// ticks adds /proc CPU times and converts them to seconds.
func ticks(fields ...string) float64 {
	var sum float64
	for _, s := range fields {
		v, _ := strconv.ParseFloat(s, 64)
		sum += v
	}
	return sum / clockTicks
}

// treeCPU returns the CPU seconds of a process and its children, the live ones (utime and
// stime: fields 14, 15) and those it has reaped (its cutime and cstime: fields 16, 17). For
// the postmaster that is PostgreSQL's whole CPU, backends that came and went included.
func treeCPU(pid int) (float64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	sum := ticks(f[11], f[12], f[13], f[14])
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	parent := strconv.Itoa(pid)
	for _, d := range dirs {
		child, err := strconv.Atoi(filepath.Base(d))
		if err != nil || child == pid {
			continue
		}
		if cf, err := statFields(child); err == nil && cf[1] == parent { // field 4: ppid
			sum += ticks(cf[11], cf[12])
		}
	}
	return sum, nil
}

// raiseFileLimit raises the soft limit of open files to the hard one (each connection and
// channel is a descriptor) and returns it.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}

// hostCPU returns the busy and total jiffies of all CPUs from /proc/stat.
func hostCPU() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, s := range f[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

func mib(b int64) float64 { return round1(float64(b) / (1 << 20)) }
