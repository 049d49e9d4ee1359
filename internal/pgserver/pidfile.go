package pgserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// pidFile is the part of a cluster's postmaster.pid that matters to us. The
// file is written by the running postmaster, one value per line: pid, data
// directory, start time, port, first socket directory, first listen
// address, shared memory key and, once known, the status ("starting",
// "ready", "stopping", "standby").
type pidFile struct {
	pid       int
	port      int
	socketDir string
	status    string
}

// readPIDFile parses dataDir/postmaster.pid. Lines the postmaster has not
// written yet are left at their zero values.
func readPIDFile(dataDir string) (pidFile, error) {
	path := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return pidFile{}, fmt.Errorf("read %s: %w", path, err)
	}
	lines := strings.Split(string(b), "\n")
	line := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	var pf pidFile
	if pf.pid, err = strconv.Atoi(line(0)); err != nil {
		return pidFile{}, fmt.Errorf("parse pid in %s: %w", path, err)
	}
	// A postmaster that has only just started may not have written the
	// port yet; callers treat 0 as unknown.
	pf.port, _ = strconv.Atoi(line(3))
	pf.socketDir = line(4)
	pf.status = line(7)
	return pf, nil
}
