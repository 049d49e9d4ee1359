package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/brokkr/brokkr/internal/logx"
)

// makeSocketDir sets up the directory for the Unix-domain socket.
func (s *Server) makeSocketDir(dir string) error {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("socket directory: %w", err)
		}
		if len(abs)+len(socketFileName) > maxSocketPath {
			return fmt.Errorf("socket directory %s: path too long for a Unix socket (max %d bytes)", abs, maxSocketPath-len(socketFileName))
		}
		if err := mkdirOwned(abs, 0o700, s.id); err != nil {
			return err
		}
		s.socketDir = abs
		return nil
	}
	// A private directory under the temp dir, or /tmp when TMPDIR is so
	// deep that the socket path would not fit.
	parent := os.TempDir()
	if len(parent)+len("/brokkr-pg-0123456789")+len(socketFileName) > maxSocketPath {
		parent = "/tmp"
	}
	tmp, err := os.MkdirTemp(parent, "brokkr-pg-")
	if err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}
	if err := s.id.chown(tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	s.socketDir, s.removeSocketDir = tmp, true
	return nil
}

// cleanupSocketDir removes the socket directory if we created it.
func (s *Server) cleanupSocketDir() {
	if s.removeSocketDir {
		if err := os.RemoveAll(s.socketDir); err != nil {
			s.log.Warn("remove postgres socket directory", "dir", s.socketDir, logx.Err(err))
		}
		s.removeSocketDir = false
	}
}

// prepareDataDir creates the data directory if needed, hands it to the
// server account and checks that account can reach it. It returns the
// absolute path with symlinks resolved, as the server will report it.
func prepareDataDir(dataDir string, id *identity) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	if err := mkdirOwned(abs, 0o700, id); err != nil {
		return "", err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("data directory %s is not a directory", abs)
	}
	// An existing empty directory (say, one made by a test or an
	// installer) must belong to the server account for initdb to use it.
	if !id.owns(st) {
		if entries, err := os.ReadDir(abs); err == nil && len(entries) == 0 {
			if err := id.chown(abs); err != nil {
				return "", err
			}
			if err := os.Chmod(abs, 0o700); err != nil {
				return "", fmt.Errorf("chmod data directory: %w", err)
			}
		}
	}
	// Each ancestor must be searchable by the server account, or initdb
	// and postgres fail with a far less helpful message.
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err != nil {
			return "", fmt.Errorf("data directory: %w", err)
		}
		if !id.canSearch(st) {
			return "", fmt.Errorf("data directory %s is not reachable by %s: it cannot enter %s (mode %s); "+
				"choose a data directory elsewhere or grant that account search permission", abs, id, dir, st.Mode())
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	return abs, nil
}

// mkdirOwned creates dir and any missing parents with mode perm, handing
// every directory it creates (and only those) to the server account.
func mkdirOwned(dir string, perm os.FileMode, id *identity) error {
	var missing []string
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		missing = append(missing, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, p := range missing {
		if err := id.chown(p); err != nil {
			return err
		}
	}
	return nil
}

// openLog opens the server log for appending, creating it (and its
// directory) for the server account if needed.
func openLog(path string, id *identity) (*os.File, error) {
	if err := mkdirOwned(filepath.Dir(path), 0o700, id); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		if err := id.chown(path); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// freePort asks the kernel for a currently unused TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// readLogFrom returns the log contents after offset, best effort.
func readLogFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
