//go:build unix

package pgserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// identity is the operating-system account the server programs run as.
// A nil *identity means "the current user, unchanged".
type identity struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
}

// serverIdentity decides which account runs initdb and postgres. PostgreSQL
// refuses to run as root, so a root process hands the server to the
// unprivileged "postgres" account; anyone else runs it as themselves.
func serverIdentity() (*identity, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root: "+
			"look up the unprivileged \"postgres\" user to run it as: %w "+
			"(create that user, e.g. `useradd --system postgres`, or run as a non-root user)", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse uid %q of user postgres: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse gid %q of user postgres: %w", u.Gid, err)
	}
	id := &identity{name: u.Username, uid: uint32(uid), gid: uint32(gid)}
	// Supplementary groups matter, e.g. for reading certificates through a
	// shared group; without them the child would keep only the primary one.
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				id.groups = append(id.groups, uint32(n))
			}
		}
	}
	return id, nil
}

// String names the account for messages.
func (id *identity) String() string {
	if id == nil {
		return "the current user"
	}
	return fmt.Sprintf("user %s (uid %d)", id.name, id.uid)
}

// sysProcAttr returns the process attributes for a server program. The child
// always gets its own process group so that a Ctrl-C aimed at our terminal
// does not reach it: we decide when and how the server shuts down. When
// dieWithParent is set, the kernel stops the server if we die (Linux only).
func (id *identity) sysProcAttr(dieWithParent bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if id != nil {
		attr.Credential = &syscall.Credential{Uid: id.uid, Gid: id.gid, Groups: id.groups}
	}
	if dieWithParent {
		setParentDeathSignal(attr)
	}
	return attr
}

// chown hands path over to the identity; a no-op for the current user.
func (id *identity) chown(path string) error {
	if id == nil {
		return nil
	}
	if err := os.Lchown(path, int(id.uid), int(id.gid)); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, id.name, err)
	}
	return nil
}

// owns reports whether the file described by st belongs to the identity.
func (id *identity) owns(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	if id == nil {
		return int(sys.Uid) == os.Geteuid()
	}
	return sys.Uid == id.uid
}

// canSearch reports whether the identity may traverse the directory st.
// Only meaningful for a foreign identity: the current user was able to
// create or stat the path already.
func (id *identity) canSearch(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if id == nil || !ok {
		return true
	}
	perm := st.Mode().Perm()
	switch {
	case sys.Uid == id.uid:
		return perm&0o100 != 0
	case sys.Gid == id.gid || containsGID(id.groups, sys.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

func containsGID(groups []uint32, gid uint32) bool {
	for _, g := range groups {
		if g == gid {
			return true
		}
	}
	return false
}

// processAlive reports whether pid names a live PostgreSQL process. A
// permission error still means the process exists. On systems with /proc the
// command name and state are checked too, so that a stale postmaster.pid
// whose number now belongs to an unrelated process (after a reboot, say) or
// to an unreaped zombie is recognised as stale.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		// No /proc (or the process vanished meanwhile): trust kill(2).
		return !errors.Is(err, fs.ErrNotExist) || !procMounted()
	}
	// The format is "pid (comm) state ...", and comm may contain spaces
	// or parentheses itself, so split at the last ')'.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || len(s) < end+3 {
		return true
	}
	comm, state := s[open+1:end], s[end+2]
	if state == 'Z' || state == 'X' {
		return false
	}
	return strings.HasPrefix(comm, "postgres") || strings.HasPrefix(comm, "postmaster")
}

// procMounted reports whether /proc describes processes on this system.
func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

var (
	// sigFastShutdown asks the postmaster for a fast shutdown (what
	// `pg_ctl stop -m fast` sends): roll back open transactions, checkpoint,
	// exit.
	sigFastShutdown os.Signal = syscall.SIGINT
	// sigImmediateShutdown makes the postmaster exit at once; the next start
	// runs crash recovery.
	sigImmediateShutdown os.Signal = syscall.SIGQUIT
)
