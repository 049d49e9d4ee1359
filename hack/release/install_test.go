package release

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// checkServiceCommands runs the broker and agent from the snapshot: --version names the
// snapshot, and the subcommands their units' ExecStart start exist (--help).
func checkServiceCommands(ctx context.Context, t *testing.T, s *snapshot) {
	for _, bin := range []string{"brokkr-broker", "brokkr-agent"} {
		b := s.find(t, "Binary", bin, "")
		if out, want := run(ctx, t, "", nil, s.path(b), "--version"), bin+" version "+s.meta.Version+" ("+s.meta.Commit[:12]+")"; !strings.HasPrefix(out, want) {
			t.Errorf("%s --version printed %q, want it to start with %q", bin, out, want)
		}
		u := parseUnit(t, filepath.Join(s.root, "packaging", "systemd", bin+".service"))
		args := strings.Fields(u["Service"]["ExecStart"][0])[1:]
		out := run(ctx, t, "", nil, s.path(b), append(args, "--help")...)
		if !strings.Contains(out, bin+" "+strings.Join(args, " ")) {
			t.Errorf("%s %s --help does not describe that command:\n%s", bin, strings.Join(args, " "), out)
		}
	}
}

// checkInstallBrokkrctl installs the brokkrctl .deb with dpkg -i into a scratch root (its
// own dpkg database, nothing outside it touched), runs the installed binary and completes
// `brokkrctl ver<TAB>` in bash with the completion script from its installed path.
func checkInstallBrokkrctl(ctx context.Context, t *testing.T, s *snapshot) {
	deb := s.path(s.find(t, "Linux Package", "brokkrctl", "deb"))
	inst := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/log"} {
		if err := os.MkdirAll(filepath.Join(inst, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(inst, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dpkg := func(args ...string) string {
		// --path-include=* undoes any path-exclude of the machine's dpkg.cfg.d (slim
		// images drop man pages), so the scratch root gets every file of the package.
		base := []string{"--root=" + inst, "--force-not-root", "--force-bad-path", "--log=/dev/null", "--path-include=*"}
		return run(ctx, t, "", nil, "dpkg", append(base, args...)...)
	}
	dpkg("-i", deb)
	if st := dpkg("--status", "brokkrctl"); !strings.Contains(st, "Status: install ok installed") {
		t.Fatalf("dpkg --status brokkrctl:\n%s", st)
	}
	listed := strings.Fields(dpkg("--listfiles", "brokkrctl"))
	for _, p := range []string{"/usr/bin/brokkrctl", "/usr/share/bash-completion/completions/brokkrctl", "/usr/share/man/man1/brokkrctl.1"} {
		if !slices.Contains(listed, p) {
			t.Errorf("dpkg --listfiles brokkrctl lacks %s", p)
		}
		if _, err := os.Stat(filepath.Join(inst, p)); err != nil {
			t.Errorf("installed file: %v", err)
		}
	}

	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"PATH="+filepath.Join(inst, "usr", "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	bin := filepath.Join(inst, "usr", "bin", "brokkrctl")
	out := run(ctx, t, "", env, bin, "version")
	if !strings.HasPrefix(out, "brokkrctl "+s.meta.Version+" ") {
		t.Errorf("brokkrctl version printed %q, want the snapshot version %s", out, s.meta.Version)
	}
	var rep struct {
		Client struct {
			Version string `json:"version"`
			Commit  string `json:"commit"`
		} `json:"client"`
	}
	if err := json.Unmarshal([]byte(run(ctx, t, "", env, bin, "version", "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Client.Version != s.meta.Version || rep.Client.Commit != s.meta.Commit {
		t.Errorf("brokkrctl version -o json: %+v, want version %s commit %s", rep.Client, s.meta.Version, s.meta.Commit)
	}

	// bash-completion loads a command's completion on demand from
	// <dir>/bash-completion/completions for each dir of XDG_DATA_DIRS: point it at the
	// scratch root's /usr/share, as /usr/share is on a real system.
	const framework = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(framework); err != nil {
		missing(t, "bash completion needs the bash-completion package (%s): %v", framework, err)
	}
	script := `set -e
source ` + framework + `
__load_completion brokkrctl
complete -p brokkrctl
set +e # compopt complains outside an interactive completion; the replies are what count
COMP_WORDS=(brokkrctl ver)
COMP_CWORD=1
COMP_LINE="brokkrctl ver"
COMP_POINT=${#COMP_LINE}
__start_brokkrctl brokkrctl ver brokkrctl 2>/dev/null
printf 'reply:%s\n' "${COMPREPLY[@]}"
`
	env = append(env, "XDG_DATA_DIRS="+filepath.Join(inst, "usr", "share"), "BASH_COMPLETION_USER_DIR="+filepath.Join(home, "none"))
	cmd := exec.CommandContext(ctx, "bash", "--norc", "--noprofile", "-c", script)
	cmd.Env = env
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion: %v\n%s", err, got)
	}
	if !strings.Contains(string(got), "complete -o default -F __start_brokkrctl brokkrctl") &&
		!strings.Contains(string(got), "-F __start_brokkrctl brokkrctl") {
		t.Errorf("bash-completion did not load brokkrctl's completion from the installed path:\n%s", got)
	}
	var replies []string
	for _, line := range strings.Split(string(got), "\n") {
		if r, ok := strings.CutPrefix(line, "reply:"); ok {
			replies = append(replies, strings.TrimSpace(r))
		}
	}
	t.Logf("bash completes `brokkrctl ver` to %q", replies)
	if !slices.Equal(replies, []string{"version"}) {
		t.Errorf("completion of `brokkrctl ver` offered %q, want [version]\n%s", replies, got)
	}
}

// serviceInstallScript installs the broker and agent .debs for real, maintainer scripts
// and all, on a copy-on-write view of the machine: inside a private mount namespace
// /etc, /usr and /var are overlays whose changes land in $W and vanish with the
// namespace. It prints what the packages did as key=value lines.
const serviceInstallScript = `set -eu
if [ "$(readlink /proc/self/ns/mnt)" = "$HOST_NS" ]; then
	echo "not in a private mount namespace; refusing to touch the machine" >&2
	exit 1
fi
for d in etc usr var; do
	mkdir -p "$W/$d/upper" "$W/$d/work"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$W/$d/upper,workdir=$W/$d/work" "/$d" || exit 77
done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive
echo "before-user=$(getent passwd brokkr || true)"
dpkg --log=/dev/null -i "$BROKER_DEB" "$AGENT_DEB"
echo "user=$(getent passwd brokkr)"
echo "group=$(getent group brokkr | cut -d: -f1)"
echo "datadir=$(stat -c '%U:%G %a' /var/lib/brokkr)"
echo "broker-env=$(stat -c '%U:%G %a' /etc/brokkr/broker.env)"
echo "agent-env=$(stat -c '%U:%G %a' /etc/brokkr/agent.env)"
echo "unit=$(stat -c '%U:%G %a' /usr/lib/systemd/system/brokkr-broker.service)"
# A local setting survives a reinstall (config|noreplace); the scripts run again.
echo 'BROKKR__LOG__LEVEL=debug' >> /etc/brokkr/broker.env
dpkg --log=/dev/null -i "$BROKER_DEB" "$AGENT_DEB"
echo "users=$(getent passwd | grep -c '^brokkr:')"
echo "kept-setting=$(grep -c '^BROKKR__LOG__LEVEL=debug$' /etc/brokkr/broker.env)"
# The scripts on their own, once more: nothing left to do, and no error.
sh /var/lib/dpkg/info/brokkr-broker.preinst upgrade 0.0.0
sh /var/lib/dpkg/info/brokkr-broker.postinst configure 0.0.0
sh /var/lib/dpkg/info/brokkr-agent.postinst configure 0.0.0
echo "rerun=ok"
# What a started broker leaves in its data directory (admin PAK, embedded database): kept
# on removal, whatever the machine had before.
echo data > /var/lib/brokkr/admin-pak
dpkg --log=/dev/null -r brokkr-broker brokkr-agent
echo "after-remove-bin=$(test -e /usr/bin/brokkr-broker && echo kept || echo gone)"
echo "after-remove-user=$(getent passwd brokkr | cut -d: -f1)"
echo "after-remove-data=$(test -f /var/lib/brokkr/admin-pak && echo kept || echo gone)"
echo "after-remove-env=$(test -f /etc/brokkr/broker.env && echo kept || echo gone)"
dpkg --log=/dev/null -P brokkr-broker brokkr-agent
echo "after-purge-env=$(test -f /etc/brokkr/broker.env && echo kept || echo gone)"
`

// checkInstallServicePackages runs serviceInstallScript and checks what the maintainer
// scripts did: the brokkr system user, owners and modes of the data directory and the
// environment files, a second install that changes nothing, and removal and purge.
func checkInstallServicePackages(ctx context.Context, t *testing.T, s *snapshot) {
	if os.Geteuid() != 0 {
		missing(t, "installing the service packages on an overlay of the machine needs root (euid %d)", os.Geteuid())
	}
	unshare := requireTool(t, "unshare")
	hostNS, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		missing(t, "mount namespaces: %v", err)
	}
	cmd := exec.CommandContext(ctx, unshare, "--mount", "--propagation", "private", "sh", "-c", serviceInstallScript)
	cmd.Env = append(os.Environ(), "HOST_NS="+hostNS, "W="+t.TempDir(),
		"BROKER_DEB="+s.path(s.find(t, "Linux Package", "brokkr-broker", "deb")),
		"AGENT_DEB="+s.path(s.find(t, "Linux Package", "brokkr-agent", "deb")))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 77 {
		missing(t, "overlay mounts are not allowed here:\n%s", out)
	}
	if err != nil {
		t.Fatalf("install service packages: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.Contains(k, " ") {
			got[k] = v
		}
	}
	if got["before-user"] != "" {
		t.Logf("this machine already has a brokkr user (%s): the packages reuse it", got["before-user"])
	}
	// name:x:uid:gid:comment:home:shell
	if f := strings.Split(got["user"], ":"); len(f) != 7 || f[0] != "brokkr" || f[5] != "/var/lib/brokkr" || !strings.HasSuffix(f[6], "nologin") {
		t.Errorf("brokkr user %q, want home /var/lib/brokkr and a nologin shell", got["user"])
	} else if uid, gid := f[2], f[3]; len(uid) > 3 || len(gid) > 3 {
		t.Errorf("brokkr user %q is not a system account (uid %s gid %s)", got["user"], uid, gid)
	}
	for k, want := range map[string]string{
		"group":             "brokkr",
		"datadir":           "brokkr:brokkr 750",
		"broker-env":        "root:brokkr 640",
		"agent-env":         "root:brokkr 640",
		"unit":              "root:root 644",
		"users":             "1",
		"kept-setting":      "1",
		"rerun":             "ok",
		"after-remove-bin":  "gone",
		"after-remove-user": "brokkr",
		"after-remove-data": "kept",
		"after-remove-env":  "kept",
		"after-purge-env":   "gone",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
