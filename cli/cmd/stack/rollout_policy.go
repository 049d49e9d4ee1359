package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// NewCmdRolloutPolicy returns stack rollout policy with set, get and delete.
func NewCmdRolloutPolicy(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy <command>",
		Short: "Manage the rollout policy of a stack",
		Long: `Manage the rollout policy of a stack: the waves new deployment objects go through. A
policy applies to objects created after it is set; deleting it lets later objects reach every
agent at once, while rollouts under way go on.`,
		Example: `  brokkrctl stack rollout policy set web --wave canary=canary --wave eu=region-eu --gate healthy --pause 10m
  brokkrctl stack rollout policy get web -o yaml > policy.yaml
  brokkrctl stack rollout policy set web -f policy.yaml`,
	}
	cmd.AddCommand(NewCmdPolicySet(f, nil), NewCmdPolicyGet(f, nil), NewCmdPolicyDelete(f, nil))
	return cmd
}

// PolicySetOptions are the inputs of stack rollout policy set.
type PolicySetOptions struct {
	Factory            *cmdutil.Factory
	Ref                string
	File               string
	Waves              []string
	WaveAnnotations    []string
	WaveMaxUnavailable []string
	Gate               string
	Pause              string
	FailureThreshold   string
	Format             output.Format
	// Policy is the policy read from the file or built from the flags.
	Policy client.RolloutPolicy
}

// policyFlags are the flags that describe a policy without -f.
var policyFlags = []string{"wave", "wave-annotation", "wave-max-unavailable", "gate", "pause", "failure-threshold"}

// NewCmdPolicySet returns stack rollout policy set; runF replaces the run function in tests.
func NewCmdPolicySet(f *cmdutil.Factory, runF func(*PolicySetOptions) error) *cobra.Command {
	opts := &PolicySetOptions{Factory: f}
	cmd := verb.OneArg(&cobra.Command{
		Use:   "set NAME|ID (--wave NAME=LABEL[,LABEL...] ... | -f FILE)",
		Short: "Set the rollout policy of a stack",
		Long: `Set (create or replace) the rollout policy of a stack, from flags or from a YAML or JSON
file (-f, "-" reads stdin) holding a policy as "policy get -o yaml" prints it.

Each --wave adds a wave, in order: its name and the labels an agent must all carry to be in
it; --wave-annotation NAME=KEY=VALUE adds an annotation the wave's agents must carry. An
agent belongs to the first wave that selects it; the agents no wave selects form the last
wave, "remaining". --wave-max-unavailable NAME=N|P% bounds the agents of a wave applying at
once (the whole wave by default).

--gate is what an agent must report before its wave counts as done: applied (default) or
healthy. --pause is the wait after each wave before the next unlocks: a duration, or manual
("stack rollout promote" unlocks it). --failure-threshold is how many failed agents (a count
or a percentage of the stack's agents, default 0) the rollout tolerates before it halts.`,
		Example: `  brokkrctl stack rollout policy set web --wave canary=canary --wave eu=region-eu,prod --pause 10m
  brokkrctl stack rollout policy set web --wave first=canary --wave-max-unavailable first=25% --gate healthy --pause manual --failure-threshold 10%
  brokkrctl stack rollout policy set web -f policy.yaml`,
	}, stackArg(f), verb.Setup[PolicySetOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runPolicySet,
		Check: func(cmd *cobra.Command) error { return opts.check(cmd) }})
	fl := cmd.Flags()
	fl.StringVarP(&opts.File, "filename", "f", "", `YAML or JSON file of the policy ("-" reads stdin)`)
	fl.StringArrayVar(&opts.Waves, "wave", nil, "Add a wave: NAME=LABEL[,LABEL...] (repeatable, in order)")
	fl.StringArrayVar(&opts.WaveAnnotations, "wave-annotation", nil, "Select a wave's agents by annotation: NAME=KEY=VALUE (repeatable)")
	fl.StringArrayVar(&opts.WaveMaxUnavailable, "wave-max-unavailable", nil, "Agents of a wave applying at once: NAME=N or NAME=P% (repeatable)")
	fl.StringVar(&opts.Gate, "gate", "", "What each agent must report: applied (default) or healthy")
	fl.StringVar(&opts.Pause, "pause", "", "Wait after each wave: a duration (10m) or manual (default 0s)")
	fl.StringVar(&opts.FailureThreshold, "failure-threshold", "", "Failed agents tolerated: N or P% of the stack's agents (default 0)")
	_ = cmd.RegisterFlagCompletionFunc("gate", complete.Fixed(client.GateApplied, client.GateHealthy))
	_ = cmd.RegisterFlagCompletionFunc("pause", complete.Fixed(client.PauseManual, "5m", "10m", "1h"))
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	return cmd
}

// check reads the policy from the file or builds it from the flags.
func (o *PolicySetOptions) check(cmd *cobra.Command) error {
	if o.File != "" {
		for _, name := range policyFlags {
			if cmd.Flags().Changed(name) {
				return cmdutil.FlagErrorf("-f and --%s cannot be combined: the file holds the whole policy", name)
			}
		}
		raw, err := cmdutil.ReadFileOrStdin(o.Factory.IOStreams.In, o.File)
		if err != nil {
			return err
		}
		if o.Policy, err = ParsePolicy(raw); err != nil {
			return cmdutil.FlagErrorf("%s: %v", o.File, err)
		}
		return nil
	}
	if len(o.Waves) == 0 {
		return cmdutil.FlagErrorf("give the waves with --wave NAME=LABEL[,LABEL...], or the policy with -f FILE")
	}
	p, err := BuildPolicy(PolicyFlags{Waves: o.Waves, Annotations: o.WaveAnnotations, MaxUnavailable: o.WaveMaxUnavailable,
		Gate: o.Gate, Pause: o.Pause, FailureThreshold: o.FailureThreshold})
	if err != nil {
		return err
	}
	o.Policy = p
	return nil
}

// ParsePolicy reads a rollout policy from YAML or JSON. Unknown fields are errors; the
// stack id and times a printed policy carries are dropped, so a policy read from one stack
// can be set on another.
func ParsePolicy(raw []byte) (client.RolloutPolicy, error) {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return client.RolloutPolicy{}, fmt.Errorf("parse policy: %w", err)
	}
	if _, ok := doc.(map[string]any); !ok {
		return client.RolloutPolicy{}, fmt.Errorf("parse policy: the document is not a mapping")
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return client.RolloutPolicy{}, fmt.Errorf("parse policy: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var p client.RolloutPolicy
	if err := dec.Decode(&p); err != nil {
		return client.RolloutPolicy{}, fmt.Errorf("parse policy: %w", err)
	}
	if len(p.Waves) == 0 {
		return client.RolloutPolicy{}, fmt.Errorf("parse policy: no waves")
	}
	p.StackID, p.CreatedAt, p.UpdatedAt = uuid.Nil, time.Time{}, time.Time{}
	return p, nil
}

// PolicyFlags are the flag values a policy is built from.
type PolicyFlags struct {
	// Waves are NAME=LABEL[,LABEL...] (or NAME alone when annotations select the wave).
	Waves []string
	// Annotations are NAME=KEY=VALUE.
	Annotations []string
	// MaxUnavailable are NAME=N or NAME=P%.
	MaxUnavailable   []string
	Gate             string
	Pause            string
	FailureThreshold string
}

// BuildPolicy builds a rollout policy from flag values; mistakes are usage errors.
func BuildPolicy(in PolicyFlags) (client.RolloutPolicy, error) {
	var p client.RolloutPolicy
	index := map[string]int{}
	for _, w := range in.Waves {
		name, labels, _ := strings.Cut(w, "=")
		name = strings.TrimSpace(name)
		switch name {
		case "":
			return p, cmdutil.FlagErrorf("invalid --wave %q: want NAME=LABEL[,LABEL...]", w)
		case client.ImplicitWaveName:
			return p, cmdutil.FlagErrorf("invalid --wave %q: %q names the last wave, of the agents no wave selects", w, name)
		}
		if _, dup := index[name]; dup {
			return p, cmdutil.FlagErrorf("wave %q is given twice", name)
		}
		wave := client.RolloutWave{Name: name}
		for _, l := range strings.Split(labels, ",") {
			if l = strings.TrimSpace(l); l != "" {
				wave.Selector.Labels = append(wave.Selector.Labels, l)
			}
		}
		index[name] = len(p.Waves)
		p.Waves = append(p.Waves, wave)
	}
	for _, a := range in.Annotations {
		i, kv, err := waveValue(index, "wave-annotation", a, "NAME=KEY=VALUE")
		if err != nil {
			return p, err
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return p, cmdutil.FlagErrorf("invalid --wave-annotation %q: want NAME=KEY=VALUE", a)
		}
		sel := &p.Waves[i].Selector
		if sel.Annotations == nil {
			sel.Annotations = map[string]string{}
		}
		sel.Annotations[strings.TrimSpace(k)] = v
	}
	for _, w := range p.Waves {
		if len(w.Selector.Labels) == 0 && len(w.Selector.Annotations) == 0 {
			return p, cmdutil.FlagErrorf("wave %q selects no agents: give labels (--wave %s=LABEL) or --wave-annotation %s=KEY=VALUE", w.Name, w.Name, w.Name)
		}
	}
	for _, m := range in.MaxUnavailable {
		i, v, err := waveValue(index, "wave-max-unavailable", m, "NAME=N or NAME=P%")
		if err != nil {
			return p, err
		}
		if err := checkCount("wave-max-unavailable", v, 1); err != nil {
			return p, err
		}
		p.Waves[i].MaxUnavailable = client.IntOrPercent(strings.TrimSpace(v))
	}
	var err error
	if p.Gate, err = checkGate(in.Gate); err != nil {
		return p, err
	}
	if p.Pause, err = checkPause(in.Pause); err != nil {
		return p, err
	}
	if in.FailureThreshold != "" {
		if err := checkCount("failure-threshold", in.FailureThreshold, 0); err != nil {
			return p, err
		}
		p.FailureThreshold = client.IntOrPercent(strings.TrimSpace(in.FailureThreshold))
	}
	return p, nil
}

// waveValue splits NAME=VALUE of a per-wave flag and finds the wave, which --wave must
// declare.
func waveValue(index map[string]int, flag, s, want string) (int, string, error) {
	name, v, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return 0, "", cmdutil.FlagErrorf("invalid --%s %q: want %s", flag, s, want)
	}
	i, found := index[name]
	if !found {
		return 0, "", cmdutil.FlagErrorf("invalid --%s %q: no --wave %s", flag, s, name)
	}
	return i, v, nil
}

// checkCount accepts a count of at least least, or a percentage up to 100% (0% only when
// least is 0).
func checkCount(flag, s string, least int) error {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err == nil && f <= 100 && (f > 0 || least == 0 && f == 0) {
			return nil
		}
	} else if n, err := strconv.Atoi(s); err == nil && n >= least {
		return nil
	}
	return cmdutil.FlagErrorf("invalid --%s %q: want a count of at least %d or a percentage such as 25%%", flag, s, least)
}

func checkGate(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", client.GateApplied, client.GateHealthy:
		return s, nil
	}
	return "", cmdutil.FlagErrorf("invalid --gate %q: want applied or healthy", s)
}

func checkPause(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, client.PauseManual) {
		return strings.ToLower(s), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return s, nil
	}
	return "", cmdutil.FlagErrorf("invalid --pause %q: want a duration such as 10m, or manual", s)
}

func runPolicySet(ctx context.Context, opts *PolicySetOptions) error {
	var st client.Stack
	set := func(ctx context.Context, c *client.Client) (client.RolloutPolicy, error) {
		var err error
		if st, err = resolve.Stack(ctx, c, opts.Ref); err != nil {
			return client.RolloutPolicy{}, err
		}
		return c.Stacks().SetRolloutPolicy(ctx, st.ID, opts.Policy)
	}
	p, err := verb.Do(ctx, opts.Factory, set)
	if err != nil {
		return err
	}
	output.Successf(opts.Factory.IOStreams, "Set the rollout policy of stack %s: %s; it applies to objects created from now on",
		st.Name, plural(len(p.Waves)+1, "wave"))
	return PrintPolicy(output.NewPrinter(opts.Factory, opts.Format), p)
}

// PrintPolicy prints a rollout policy: the wire object for json and yaml,
// rolloutpolicy/<stack id> for name, otherwise its settings and the table of its waves (the
// implicit last wave included).
func PrintPolicy(p *output.Printer, pol client.RolloutPolicy) error {
	if ok, err := p.PrintWire(pol); ok {
		return err
	}
	if p.Format == output.FormatName {
		_, err := fmt.Fprintf(p.IO.Out, "rolloutpolicy/%s\n", pol.StackID)
		return err
	}
	fields := append(specs.PolicyHeader(pol), [2]string{"Updated", output.FormatTime(&pol.UpdatedAt, p.IO.IsStdoutTTY(), p.Now())})
	if err := printFields(p.IO.Out, fields); err != nil {
		return err
	}
	fmt.Fprintln(p.IO.Out)
	return output.PrintList(p, specs.PolicyWave, specs.PolicyWaveRows(pol))
}

// PolicyGetOptions are the inputs of stack rollout policy get.
type PolicyGetOptions = verb.RefOptions

// NewCmdPolicyGet returns stack rollout policy get; runF replaces the run function in tests.
func NewCmdPolicyGet(f *cmdutil.Factory, runF func(*PolicyGetOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:   "get NAME|ID",
		Short: "Show the rollout policy of a stack",
		Long: `Show the rollout policy of a stack: its gate, pause and failure threshold, and its waves
in order, the implicit last wave ("remaining") included. -o yaml prints a file "policy set
-f" reads back.`,
		Example: "  brokkrctl stack rollout policy get web\n  brokkrctl stack rollout policy get web -o yaml > policy.yaml",
	}, stackArg(f), verb.Then(resolve.StackID, func(ctx context.Context, c *client.Client, id uuid.UUID) (client.RolloutPolicy, error) {
		return c.Stacks().RolloutPolicy(ctx, id)
	}), PrintPolicy)
}

// PolicyDeleteOptions are the inputs of stack rollout policy delete.
type PolicyDeleteOptions = verb.DeleteOptions

// NewCmdPolicyDelete returns stack rollout policy delete; runF replaces the run function in
// tests.
func NewCmdPolicyDelete(f *cmdutil.Factory, runF func(*PolicyDeleteOptions) error) *cobra.Command {
	return verb.DeleteCmd(f, runF, &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete the rollout policy of a stack",
		Long: `Delete the rollout policy of a stack: objects created afterwards reach every agent at once;
rollouts under way go on with the policy they started with. On a terminal the command asks
for confirmation unless --yes is given; without a terminal --yes is required.`,
		Example: "  brokkrctl stack rollout policy delete web --yes",
		Aliases: []string{"rm"},
	}, stackArg(f), resolve.Stack, verb.Deletion[client.Stack]{
		Question: func(s client.Stack) string {
			return fmt.Sprintf("Delete the rollout policy of stack %s? New objects will reach every agent at once.", s.Name)
		},
		Delete: func(ctx context.Context, c *client.Client, s client.Stack) error {
			return c.Stacks().DeleteRolloutPolicy(ctx, s.ID)
		},
		Done: func(s client.Stack) string { return "Deleted the rollout policy of stack " + s.Name },
	})
}
