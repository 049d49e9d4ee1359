package pgserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// debianRoot is where Debian and Ubuntu install one directory per server
// major version (/usr/lib/postgresql/15/bin, ...).
const debianRoot = "/usr/lib/postgresql"

// requiredBinaries are the programs a bin directory must hold to be usable.
var requiredBinaries = []string{"initdb", "pg_ctl", "postgres"}

// FindBinDir locates the directory holding the PostgreSQL server programs
// (initdb, pg_ctl, postgres). It prefers initdb found on PATH (following
// symlinks to the real installation) and otherwise picks the newest
// /usr/lib/postgresql/<version>/bin. The error names the package to install.
func FindBinDir() (string, error) {
	return findBinDir(exec.LookPath, debianRoot)
}

// findBinDir is FindBinDir with the PATH lookup and the versioned search
// root injectable, so tests can simulate machines without PostgreSQL.
func findBinDir(lookPath func(string) (string, error), root string) (string, error) {
	if p, err := lookPath("initdb"); err == nil {
		// Try the directory of the real file first: /usr/local/bin/initdb is
		// often a symlink into a versioned directory that holds everything.
		var candidates []string
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
		candidates = append(candidates, filepath.Dir(p))
		for _, dir := range candidates {
			if hasServerBinaries(dir) {
				return dir, nil
			}
		}
	}

	matches, _ := filepath.Glob(filepath.Join(root, "*", "bin"))
	// Newest major version first: compare the version directory names
	// numerically so that 10 sorts above 9.6.
	slices.SortFunc(matches, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	for _, dir := range matches {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (%s) found on PATH or under %s/*/bin: "+
		"install them, e.g. `apt-get install postgresql`", strings.Join(requiredBinaries, ", "), root)
}

// hasServerBinaries reports whether dir holds every required program as an
// executable regular file.
func hasServerBinaries(dir string) bool {
	for _, name := range requiredBinaries {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// compareVersions orders dotted version strings ("9.6", "15") numerically,
// component by component. Non-numeric components compare as zero.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}
