package release

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// envAssignment matches a commented example in an environment file: "#BROKKR__LOG__LEVEL=info".
var envAssignment = regexp.MustCompile(`^#(BROKKR_[A-Z0-9_]+)=`)

// TestEnvironmentFilesMatchDocs keeps /etc/brokkr/broker.env and agent.env true to
// docs/configuration.md: every example names a documented variable, belongs to the right
// program, and is commented out, so installing a package changes no setting.
func TestEnvironmentFilesMatchDocs(t *testing.T) {
	root := repoRoot(t)
	docs, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file      string
		must      []string // variables the file has to show
		forbidden []string // prefixes of the other program's variables
	}{
		{
			file:      "broker.env",
			must:      []string{"BROKKR__DATABASE__URL", "BROKKR__BROKER__LISTEN_ADDR", "BROKKR__BROKER__PAK_HASH", "BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY", "BROKKR__LOG__LEVEL"},
			forbidden: []string{"BROKKR__AGENT__", "BROKKR__TELEMETRY__AGENT__"},
		},
		{
			file:      "agent.env",
			must:      []string{"BROKKR__AGENT__BROKER_URL", "BROKKR__AGENT__PAK", "BROKKR__AGENT__AGENT_NAME", "BROKKR__AGENT__CLUSTER_NAME", "BROKKR__AGENT__KUBECONFIG_PATH", "BROKKR__AGENT__HEALTH_PORT"},
			forbidden: []string{"BROKKR__DATABASE__", "BROKKR__BROKER__", "BROKKR__CORS__", "BROKKR__PAK__", "BROKKR__TELEMETRY__BROKER__"},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(root, "packaging", "env", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var names []string
			sc := bufio.NewScanner(f)
			for n := 1; sc.Scan(); n++ {
				line := sc.Text()
				if strings.TrimSpace(line) == "" {
					continue
				}
				if !strings.HasPrefix(line, "#") {
					t.Errorf("%s:%d is not a comment; the packaged file must set nothing: %q", tc.file, n, line)
					continue
				}
				m := envAssignment.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				name := m[1]
				names = append(names, name)
				if !strings.Contains(string(docs), "`"+name+"`") {
					t.Errorf("%s:%d: %s is not in docs/configuration.md", tc.file, n, name)
				}
				for _, p := range tc.forbidden {
					if strings.HasPrefix(name, p) {
						t.Errorf("%s:%d: %s belongs to the other program", tc.file, n, name)
					}
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.must {
				if !slices.Contains(names, want) {
					t.Errorf("%s shows no example of %s", tc.file, want)
				}
			}
		})
	}
}

// unitFile is a parsed systemd unit: section -> key -> values in order.
type unitFile map[string]map[string][]string

// parseUnit reads a systemd unit file (no line continuations are used in ours).
func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	section := ""
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n+1, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// TestSystemdUnits checks the hardening of the two service units and that they agree
// with the packages that ship them: the binary path, the environment file and the state
// directory are the ones goreleaser.yaml installs.
func TestSystemdUnits(t *testing.T) {
	root := repoRoot(t)
	cfg := loadConfig(t, root)
	hardening := map[string]string{
		"User":                    "brokkr",
		"Group":                   "brokkr",
		"DynamicUser":             "no",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"RestrictSUIDSGID":        "yes",
		"SystemCallArchitectures": "native",
		"Restart":                 "on-failure",
	}
	for _, tc := range []struct {
		pkg, unit, env, exec string
		writable             []string
	}{
		{pkg: "brokkr-broker", unit: "brokkr-broker.service", env: "/etc/brokkr/broker.env", exec: "brokkr-broker serve", writable: []string{"/var/lib/brokkr"}},
		{pkg: "brokkr-agent", unit: "brokkr-agent.service", env: "/etc/brokkr/agent.env", exec: "brokkr-agent start"},
	} {
		t.Run(tc.unit, func(t *testing.T) {
			src := filepath.Join("packaging", "systemd", tc.unit)
			u := parseUnit(t, filepath.Join(root, src))
			svc := u["Service"]
			if svc == nil {
				t.Fatal("no [Service] section")
			}
			for k, want := range hardening {
				if got := svc[k]; len(got) != 1 || got[0] != want {
					t.Errorf("%s=%q, want exactly %s=%q", k, got, k, want)
				}
			}
			if got := svc["SystemCallFilter"]; len(got) == 0 || got[0] != "@system-service" {
				t.Errorf("SystemCallFilter=%q, want @system-service first", got)
			}
			if got := svc["EnvironmentFile"]; len(got) != 1 || got[0] != "-"+tc.env {
				t.Errorf("EnvironmentFile=%q, want -%s", got, tc.env)
			}
			if got := svc["ReadWritePaths"]; !slices.Equal(got, tc.writable) {
				t.Errorf("ReadWritePaths=%q, want %q", got, tc.writable)
			}
			if got := u["Install"]["WantedBy"]; !slices.Equal(got, []string{"multi-user.target"}) {
				t.Errorf("WantedBy=%q", got)
			}

			// The package installs the unit, the binary where ExecStart looks, the
			// environment file as a configuration file and every directory the unit
			// may write to.
			p := cfg.nfpm(t, tc.pkg)
			if want := p.Bindir + "/" + tc.exec; !slices.Equal(svc["ExecStart"], []string{want}) {
				t.Errorf("ExecStart=%q, want %q (bindir of the %s package)", svc["ExecStart"], want, tc.pkg)
			}
			dsts := map[string]string{}
			for _, c := range p.Contents {
				if c.Src == src {
					dsts["unit"] = c.Dst
				}
				dsts[c.Dst] = c.Type
			}
			if want := "/usr/lib/systemd/system/" + tc.unit; dsts["unit"] != want {
				t.Errorf("package %s installs %s at %q, want %s", tc.pkg, src, dsts["unit"], want)
			}
			if typ, ok := dsts[tc.env]; !ok || typ != "config|noreplace" {
				t.Errorf("package %s: %s has type %q (present %v), want config|noreplace", tc.pkg, tc.env, typ, ok)
			}
			for _, w := range tc.writable {
				if dsts[w] != "dir" {
					t.Errorf("package %s does not create %s", tc.pkg, w)
				}
			}
		})
	}
}

// TestSystemdUnitsExposure asks systemd's own analyzer how exposed each service is: both
// must score at most 2.0 of 10 ("OK"); --threshold makes the analyzer fail above that.
func TestSystemdUnitsExposure(t *testing.T) {
	root := repoRoot(t)
	analyze := requireTool(t, "systemd-analyze")
	ctx := testContext(t, time.Minute)
	for _, unit := range []string{"brokkr-broker.service", "brokkr-agent.service"} {
		out, err := runErr(ctx, filepath.Join(root, "packaging", "systemd"), nil, analyze,
			"security", "--offline=yes", "--no-pager", "--threshold=20", unit)
		if err != nil {
			t.Fatalf("%s: %v", unit, err)
		}
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\w+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no exposure level in:\n%s", unit, out)
		}
		t.Logf("%s: exposure %s %s", unit, m[1], m[2])
	}
}

// TestMaintainerScripts checks that every maintainer script goreleaser.yaml names exists,
// is POSIX sh that dash parses, and is what the packages run.
func TestMaintainerScripts(t *testing.T) {
	root := repoRoot(t)
	cfg := loadConfig(t, root)
	sh := requireTool(t, "dash")
	ctx := testContext(t, time.Minute)
	seen := 0
	for _, p := range cfg.NFPMs {
		for _, hook := range []string{"preinstall", "postinstall", "preremove", "postremove"} {
			path, ok := p.Scripts[hook]
			if p.ID == "brokkrctl" {
				if ok {
					t.Errorf("brokkrctl has a %s script; the client package needs none", hook)
				}
				continue
			}
			if !ok {
				t.Errorf("package %s has no %s script", p.ID, hook)
				continue
			}
			seen++
			b, err := os.ReadFile(filepath.Join(root, path))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "#!/bin/sh\n") {
				t.Errorf("%s does not start with #!/bin/sh", path)
			}
			if _, err := runErr(ctx, root, nil, sh, "-n", path); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
	}
	if seen != 8 {
		t.Errorf("checked %d maintainer scripts, want 8 (4 per service package)", seen)
	}
}

// TestMakefilePinsGoreleaser keeps the Makefile's GoReleaser at the version the tests use.
func TestMakefilePinsGoreleaser(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^GORELEASER_VERSION \?= (\S+)$`).FindSubmatch(b)
	if m == nil || string(m[1]) != goreleaserVersion {
		t.Fatalf("Makefile does not pin GORELEASER_VERSION ?= %s", goreleaserVersion)
	}
}
