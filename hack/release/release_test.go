package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// binaries are the three programs the pipeline ships, each with an archive and a deb
// and an rpm package of the same name.
var binaries = []string{"brokkrctl", "brokkr-broker", "brokkr-agent"}

// artifact is one entry of GoReleaser's dist/artifacts.json.
type artifact struct {
	Name   string         `json:"name"`
	Path   string         `json:"path"`
	Goos   string         `json:"goos"`
	Goarch string         `json:"goarch"`
	Type   string         `json:"type"`
	Extra  map[string]any `json:"extra"`
}

// id is the build, archive or package id GoReleaser recorded for the artifact.
func (a artifact) id() string {
	s, _ := a.Extra["ID"].(string)
	return s
}

// format is the archive or package format (tar.gz, deb, rpm).
func (a artifact) format() string {
	s, _ := a.Extra["Format"].(string)
	return s
}

// metadata is GoReleaser's dist/metadata.json.
type metadata struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// snapshot is what one snapshot release left behind.
type snapshot struct {
	root      string
	dist      string
	meta      metadata
	artifacts []artifact
}

// find returns the single artifact of a type, id and format, failing the test otherwise.
func (s *snapshot) find(t *testing.T, typ, id, format string) artifact {
	t.Helper()
	var found []artifact
	for _, a := range s.artifacts {
		if a.Type == typ && a.id() == id && (format == "" || a.format() == format) {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s artifact with id %s and format %q, found %d", typ, id, format, len(found))
	}
	return found[0]
}

// path is where the artifact's file is.
func (s *snapshot) path(a artifact) string {
	if filepath.IsAbs(a.Path) {
		return a.Path
	}
	return filepath.Join(s.root, a.Path)
}

// TestReleasePipeline runs the release pipeline end to end: `goreleaser check` on
// goreleaser.yaml, then a snapshot release of the same configuration reduced to
// linux/amd64, and looks at what it made: archives, checksums, deb and rpm packages.
// It installs the brokkrctl .deb with dpkg -i into a scratch root and runs the installed
// brokkrctl and its bash completion, and installs, reinstalls and removes the broker and
// agent packages on a throw-away overlay of the machine to exercise their scripts.
//
// Slow on a cold machine: GoReleaser is compiled from the Go module proxy once (a few
// minutes on two cores) and cached under ~/.cache/brokkr/tools; a snapshot build of the
// three binaries takes about a minute more.
func TestReleasePipeline(t *testing.T) {
	if testing.Short() {
		if underCI() {
			t.Fatal("CI runs every test: do not pass -short")
		}
		t.Skip("builds GoReleaser and a snapshot release")
	}
	root := repoRoot(t)
	for _, tool := range []string{"git", "bash", "dpkg", "dpkg-deb", "rpm"} {
		requireTool(t, tool)
	}
	// Generous on purpose: the first run compiles GoReleaser (several minutes on a
	// two-core machine), then builds three binaries; the context stops a hung step before
	// the test binary's own -timeout does, so its output is kept.
	ctx := testContext(t, 25*time.Minute)
	grl := goreleaserBinary(ctx, t)

	t.Run("check", func(t *testing.T) {
		out, err := runErr(ctx, root, nil, grl, "check", "--config", "goreleaser.yaml")
		if err != nil {
			t.Fatal(err)
		}
		t.Log(strings.TrimSpace(out))
	})

	s := runSnapshot(ctx, t, grl, root)
	t.Run("archives", func(t *testing.T) { checkArchives(t, s) })
	t.Run("checksums", func(t *testing.T) { checkChecksums(t, s) })
	t.Run("deb", func(t *testing.T) { checkDebs(ctx, t, s) })
	t.Run("rpm", func(t *testing.T) { checkRPMs(ctx, t, s) })
	t.Run("service-commands", func(t *testing.T) { checkServiceCommands(ctx, t, s) })
	t.Run("dpkg-install-brokkrctl", func(t *testing.T) { checkInstallBrokkrctl(ctx, t, s) })
	t.Run("install-service-packages", func(t *testing.T) { checkInstallServicePackages(ctx, t, s) })
}

// runSnapshot writes the reduced configuration and runs a snapshot release with it.
func runSnapshot(ctx context.Context, t *testing.T, grl, root string) *snapshot {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dist := filepath.Join(tmp, "dist")
	reduced, err := reduceConfig(src, dist)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(tmp, "goreleaser.yaml")
	if err := os.WriteFile(cfg, reduced, 0o644); err != nil {
		t.Fatal(err)
	}
	// GoReleaser reads the commit only when the repository has a remote (it asks for its
	// URL); a work tree without one gets the remote of the release through git's
	// environment configuration, for this command only.
	env := os.Environ()
	if strings.TrimSpace(run(ctx, t, root, nil, "git", "remote")) == "" {
		env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=remote.origin.url",
			"GIT_CONFIG_VALUE_0=https://github.com/brokkr/brokkr.git")
	}
	head := strings.TrimSpace(run(ctx, t, root, nil, "git", "rev-parse", "HEAD"))
	start := time.Now()
	// The hooks write completions/ and manpages/ in the work tree, as `make completions
	// manpages` does; both are ignored by git.
	if _, err := runErr(ctx, root, env, grl, "release", "--config", cfg, "--snapshot", "--clean",
		"--skip=publish,announce,sign,validate,docker"); err != nil {
		t.Fatalf("snapshot release: %v", err)
	}
	t.Logf("snapshot release in %s", time.Since(start).Round(time.Second))

	s := &snapshot{root: root, dist: dist}
	readJSON(t, filepath.Join(dist, "metadata.json"), &s.meta)
	readJSON(t, filepath.Join(dist, "artifacts.json"), &s.artifacts)
	if s.meta.Version == "" || s.meta.Commit == "" {
		t.Fatalf("metadata.json lacks version or commit: %+v", s.meta)
	}
	if s.meta.Commit != head {
		t.Fatalf("metadata.json commit %s, want HEAD %s", s.meta.Commit, head)
	}
	if want := "-snapshot+" + head[:7]; !strings.HasSuffix(s.meta.Version, want) {
		t.Errorf("version %q does not end in %s (snapshot.version_template)", s.meta.Version, want)
	}
	t.Logf("snapshot %s of %s: %d artifacts", s.meta.Version, s.meta.Commit, len(s.artifacts))
	return s
}

// readJSON decodes a JSON file.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkArchives looks inside each linux/amd64 tar.gz.
func checkArchives(t *testing.T, s *snapshot) {
	for _, bin := range binaries {
		a := s.find(t, "Archive", bin, "tar.gz")
		if a.Goos != "linux" || a.Goarch != "amd64" {
			t.Errorf("%s archive is for %s/%s", bin, a.Goos, a.Goarch)
		}
		if want := fmt.Sprintf("%s_%s_linux_amd64.tar.gz", bin, s.meta.Version); a.Name != want {
			t.Errorf("archive name %s, want %s", a.Name, want)
		}
		files := tarGzFiles(t, s.path(a))
		want := []string{bin, "README.md", "LICENSE"}
		switch bin {
		case "brokkrctl":
			want = append(want, "completions/brokkrctl.bash", "completions/brokkrctl.zsh",
				"completions/brokkrctl.fish", "completions/brokkrctl.ps1", "manpages/brokkrctl.1",
				"manpages/brokkrctl-stack-apply.1")
		case "brokkr-broker":
			want = append(want, "packaging/systemd/brokkr-broker.service", "packaging/env/broker.env")
		case "brokkr-agent":
			want = append(want, "packaging/systemd/brokkr-agent.service", "packaging/env/agent.env")
		}
		for _, f := range want {
			if _, ok := files[f]; !ok {
				t.Errorf("%s lacks %s; it holds %v", a.Name, f, slices.Sorted(maps.Keys(files)))
			}
		}
		if h, ok := files[bin]; ok && h.Mode&0o111 == 0 {
			t.Errorf("%s: %s is not executable (mode %o)", a.Name, bin, h.Mode)
		}
	}
}

// tarGzFiles lists the regular files of a .tar.gz by name.
func tarGzFiles(t *testing.T, path string) map[string]*tar.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tarFiles(t, zr, nil)
}

// tarFiles lists a tar stream's entries by cleaned name; when keep is given, it also
// collects the content of the entries it names.
func tarFiles(t *testing.T, r io.Reader, keep map[string][]byte) map[string]*tar.Header {
	t.Helper()
	files := map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(filepath.Clean("/"+h.Name), "/")
		files[name] = h
		if _, ok := keep[name]; ok {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			keep[name] = b
		}
	}
}

// checkChecksums recomputes the SHA-256 of every archive and package in the checksums file.
func checkChecksums(t *testing.T, s *snapshot) {
	var sums []artifact
	for _, a := range s.artifacts {
		if a.Type == "Checksum" {
			sums = append(sums, a)
		}
	}
	if len(sums) != 1 {
		t.Fatalf("want one checksums file, found %d", len(sums))
	}
	b, err := os.ReadFile(s.path(sums[0]))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("checksums line %q", line)
		}
		listed[name] = sum
	}
	checked := 0
	for _, a := range s.artifacts {
		if a.Type != "Archive" && a.Type != "Linux Package" {
			continue
		}
		data, err := os.ReadFile(s.path(a))
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(data)
		if want := listed[a.Name]; want != hex.EncodeToString(got[:]) {
			t.Errorf("%s: sha256 %x, checksums file says %q", a.Name, got, want)
		}
		checked++
	}
	// 3 archives, 3 debs, 3 rpms.
	if checked != 9 {
		t.Errorf("checked %d archives and packages, want 9", checked)
	}
}

// debFile is one entry of a .deb's data archive.
type debFile struct {
	mode  os.FileMode
	owner string
	dir   bool
}

// debData lists a .deb's files through dpkg-deb and collects the content of the named ones.
func debData(ctx context.Context, t *testing.T, deb string, keep map[string][]byte) map[string]debFile {
	t.Helper()
	out := run(ctx, t, "", nil, "dpkg-deb", "--fsys-tarfile", deb)
	files := map[string]debFile{}
	for name, h := range tarFiles(t, strings.NewReader(out), keep) {
		files["/"+name] = debFile{mode: h.FileInfo().Mode().Perm(), owner: h.Uname + ":" + h.Gname, dir: h.Typeflag == tar.TypeDir}
	}
	return files
}

// debField reads one control field of a .deb.
func debField(ctx context.Context, t *testing.T, deb, field string) string {
	t.Helper()
	return strings.TrimSpace(run(ctx, t, "", nil, "dpkg-deb", "--field", deb, field))
}

// checkDebs inspects the three .deb packages: names, versions, files at the standard
// paths with the right owners and modes, conffiles and maintainer scripts.
func checkDebs(ctx context.Context, t *testing.T, s *snapshot) {
	for _, bin := range binaries {
		a := s.find(t, "Linux Package", bin, "deb")
		deb := s.path(a)
		if got := debField(ctx, t, deb, "Package"); got != bin {
			t.Errorf("%s: Package %q", a.Name, got)
		}
		if got := debField(ctx, t, deb, "Architecture"); got != "amd64" {
			t.Errorf("%s: Architecture %q", a.Name, got)
		}
		if got, core := debField(ctx, t, deb, "Version"), strings.SplitN(s.meta.Version, "-", 2)[0]; !strings.HasPrefix(got, core) {
			t.Errorf("%s: Version %q does not start with %s", a.Name, got, core)
		}
		// dpkg itself checks the control data and lists the package.
		info := run(ctx, t, "", nil, "dpkg-deb", "--info", deb)
		t.Logf("%s:\n%s", a.Name, info)

		switch bin {
		case "brokkrctl":
			files := debData(ctx, t, deb, nil)
			for _, p := range []string{
				"/usr/bin/brokkrctl",
				"/usr/share/bash-completion/completions/brokkrctl",
				"/usr/share/zsh/vendor-completions/_brokkrctl",
				"/usr/share/fish/vendor_completions.d/brokkrctl.fish",
				"/usr/share/man/man1/brokkrctl.1",
				"/usr/share/man/man1/brokkrctl-stack-apply.1",
			} {
				f, ok := files[p]
				if !ok {
					t.Errorf("%s lacks %s", a.Name, p)
					continue
				}
				want := os.FileMode(0o644)
				if strings.HasPrefix(p, "/usr/bin/") {
					want = 0o755
				}
				if f.mode != want || f.owner != "root:root" {
					t.Errorf("%s: %s is %v %s, want %v root:root", a.Name, p, f.mode, f.owner, want)
				}
			}
			if _, err := runErr(ctx, "", nil, "dpkg-deb", "--info", deb, "preinst"); err == nil {
				t.Errorf("%s has a preinst script; the client package needs none", a.Name)
			}
		case "brokkr-broker", "brokkr-agent":
			checkServiceDeb(ctx, t, s, a)
		}
	}
}

// checkServiceDeb inspects the broker or agent .deb: unit, environment file, data
// directory and maintainer scripts, each compared with its source in the repository.
func checkServiceDeb(ctx context.Context, t *testing.T, s *snapshot, a artifact) {
	deb := s.path(a)
	short := strings.TrimPrefix(a.id(), "brokkr-") // broker or agent
	unit := "/usr/lib/systemd/system/" + a.id() + ".service"
	env := "/etc/brokkr/" + short + ".env"
	keep := map[string][]byte{strings.TrimPrefix(unit, "/"): nil, strings.TrimPrefix(env, "/"): nil}
	files := debData(ctx, t, deb, keep)
	want := map[string]debFile{
		"/usr/bin/" + a.id(): {mode: 0o755, owner: "root:root"},
		unit:                 {mode: 0o644, owner: "root:root"},
		env:                  {mode: 0o640, owner: "root:brokkr"},
		"/etc/brokkr":        {mode: 0o755, owner: "root:root", dir: true},
	}
	if short == "broker" {
		want["/var/lib/brokkr"] = debFile{mode: 0o750, owner: "brokkr:brokkr", dir: true}
	}
	for p, w := range want {
		if got, ok := files[p]; !ok {
			t.Errorf("%s lacks %s", a.Name, p)
		} else if got != w {
			t.Errorf("%s: %s is %+v, want %+v", a.Name, p, got, w)
		}
	}
	sameAsRepo(t, a.Name+" "+unit, keep[strings.TrimPrefix(unit, "/")], filepath.Join(s.root, "packaging", "systemd", a.id()+".service"))
	sameAsRepo(t, a.Name+" "+env, keep[strings.TrimPrefix(env, "/")], filepath.Join(s.root, "packaging", "env", short+".env"))

	if got := strings.Fields(run(ctx, t, "", nil, "dpkg-deb", "--info", deb, "conffiles")); !slices.Equal(got, []string{env}) {
		t.Errorf("%s: conffiles %q, want [%s]", a.Name, got, env)
	}
	scripts := map[string]string{
		"preinst":  "preinstall.sh",
		"postinst": short + "-postinstall.sh",
		"prerm":    short + "-preremove.sh",
		"postrm":   "postremove.sh",
	}
	for ctrl, src := range scripts {
		got := run(ctx, t, "", nil, "dpkg-deb", "--info", deb, ctrl)
		sameAsRepo(t, a.Name+" "+ctrl, []byte(got), filepath.Join(s.root, "packaging", "scripts", src))
	}
	if short == "broker" {
		if got := debField(ctx, t, deb, "Recommends"); got != "postgresql" {
			t.Errorf("%s: Recommends %q, want postgresql (initdb for the embedded database)", a.Name, got)
		}
	}
}

// sameAsRepo compares packaged content with the repository file it was made from.
func sameAsRepo(t *testing.T, what string, got []byte, path string) {
	t.Helper()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("%s differs from %s:\n%s", what, path, got)
	}
}

// rpmQuery runs rpm -qp on a package file with a query format.
func rpmQuery(ctx context.Context, t *testing.T, rpm string, args ...string) string {
	t.Helper()
	return run(ctx, t, "", nil, "rpm", append([]string{"-qp", "--nosignature", "--nodigest"}, append(args, rpm)...)...)
}

// checkRPMs inspects the three .rpm packages with rpm itself.
func checkRPMs(ctx context.Context, t *testing.T, s *snapshot) {
	for _, bin := range binaries {
		a := s.find(t, "Linux Package", bin, "rpm")
		rpm := s.path(a)
		if got := rpmQuery(ctx, t, rpm, "--qf", "%{NAME} %{ARCH}"); got != bin+" x86_64" {
			t.Errorf("%s: name and arch %q", a.Name, got)
		}
		out := rpmQuery(ctx, t, rpm, "--qf", `[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]`)
		// One line per file: path, mode, owner, group and flags (c config, n noreplace).
		files := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				files[f[0]] = strings.Join(f[1:], " ")
			}
		}
		const plain, exe = "-rw-r--r-- root root", "-rwxr-xr-x root root"
		want := map[string]string{"/usr/bin/" + bin: exe}
		switch bin {
		case "brokkrctl":
			want["/usr/share/bash-completion/completions/brokkrctl"] = plain
			want["/usr/share/zsh/site-functions/_brokkrctl"] = plain
			want["/usr/share/fish/vendor_completions.d/brokkrctl.fish"] = plain
			want["/usr/share/man/man1/brokkrctl.1"] = plain
		case "brokkr-broker":
			want["/usr/lib/systemd/system/brokkr-broker.service"] = plain
			want["/etc/brokkr/broker.env"] = "-rw-r----- root brokkr cn"
			want["/var/lib/brokkr"] = "drwxr-x--- brokkr brokkr"
		case "brokkr-agent":
			want["/usr/lib/systemd/system/brokkr-agent.service"] = plain
			want["/etc/brokkr/agent.env"] = "-rw-r----- root brokkr cn"
		}
		for p, w := range want {
			if got, ok := files[p]; !ok {
				t.Errorf("%s lacks %s", a.Name, p)
			} else if got != w {
				t.Errorf("%s: %s is %q, want %q", a.Name, p, got, w)
			}
		}
		if bin == "brokkrctl" {
			continue
		}
		scripts := rpmQuery(ctx, t, rpm, "--scripts")
		for _, src := range []string{"preinstall.sh", strings.TrimPrefix(bin, "brokkr-") + "-postinstall.sh"} {
			b, err := os.ReadFile(filepath.Join(s.root, "packaging", "scripts", src))
			if err != nil {
				t.Fatal(err)
			}
			// rpm shows each scriptlet's body; the distinctive middle of ours must be there.
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if body := strings.Join(lines[len(lines)/2:], "\n"); !strings.Contains(scripts, body) {
				t.Errorf("%s: scriptlets lack the body of %s:\n%s", a.Name, src, scripts)
			}
		}
	}
}
