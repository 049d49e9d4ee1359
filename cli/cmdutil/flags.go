package cmdutil

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ParseUUID parses a command argument or flag value as an id, as a usage error when it is not one.
func ParseUUID(what, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return uuid.Nil, FlagErrorf("invalid %s %q: not a UUID", what, s)
	}
	return id, nil
}

// ParseTimeFlag reads a time flag given as a duration back from now ("15m") or an RFC 3339
// time; "" is the zero time. example is a duration shown in the usage error.
func ParseTimeFlag(flag, example, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, FlagErrorf("invalid %s %q: want a duration such as %s or an RFC 3339 time", flag, s, example)
}

// OptionalStringVar registers a string flag whose value is stored in *p only when the flag is
// given: no flag leaves *p nil, and --name "" sets it to the empty string.
func OptionalStringVar(fs *pflag.FlagSet, p **string, name, usage string) {
	fs.Var(optionalString{p}, name, usage)
}

type optionalString struct{ p **string }

func (o optionalString) Set(s string) error { *o.p = &s; return nil }

func (o optionalString) Type() string { return "string" }

func (o optionalString) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return **o.p
}

// ParseKeyValues parses "k=v" pairs (as given to repeated --annotation flags).
func ParseKeyValues(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, FlagErrorf("invalid --%s %q: want key=value", flag, p)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// ReadFileOrStdin reads path, or stdin when path is "-".
func ReadFileOrStdin(stdin io.Reader, path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// ExactArgs is cobra.ExactArgs reporting a usage error that names the missing argument.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("missing argument: %s", what)
		}
		if len(args) > n {
			return FlagErrorf("too many arguments: want %s", what)
		}
		return nil
	}
}

// MinArgs requires at least n positional arguments, as a usage error naming what is wanted.
func MinArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("missing arguments: want %s", what)
		}
		return nil
	}
}

// MaxArgs allows at most n positional arguments, as a usage error naming what is wanted.
func MaxArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return FlagErrorf("too many arguments: want at most %s", what)
		}
		return nil
	}
}

// FlagAlias makes --alias another spelling of the flag name in fs: the flag parses, reports
// Changed and errors as name, and --alias stays out of help and completion (the flag's usage
// says "also --alias"). It keeps any normalization fs already has.
func FlagAlias(fs *pflag.FlagSet, alias, name string) {
	prev := fs.GetNormalizeFunc()
	fs.SetNormalizeFunc(func(fs *pflag.FlagSet, n string) pflag.NormalizedName {
		if n == alias {
			return pflag.NormalizedName(name)
		}
		return prev(fs, n)
	})
}

// NoArgs rejects positional arguments with a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("unexpected argument %q", args[0])
	}
	return nil
}

// Confirm asks a yes/no question on the terminal; anything but y or yes is a no.
func Confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// ConfirmDestructive implements the confirmation policy of destructive commands: --yes
// skips the question; on a terminal the user is asked (a "no" is a CancelError); without a
// terminal --yes is required.
func ConfirmDestructive(f *Factory, yes bool, question string) error {
	if yes {
		return nil
	}
	if err := CheckConfirmable(f, yes); err != nil {
		return err
	}
	ios := f.IOStreams
	ok, err := Confirm(ios.In, ios.ErrOut, question)
	if err != nil {
		return err
	}
	if !ok {
		return ErrCancel
	}
	return nil
}

// CheckConfirmable is the usage check destructive commands make before anything else:
// without a terminal to ask on, --yes is required.
func CheckConfirmable(f *Factory, yes bool) error {
	if !yes && !f.IOStreams.CanPrompt() {
		return FlagErrorf("--yes is required when not running interactively")
	}
	return nil
}

// AddYesFlag registers -y/--yes, which skips the confirmation of a destructive verb.
func AddYesFlag(cmd *cobra.Command, yes *bool) {
	cmd.Flags().BoolVarP(yes, "yes", "y", false, "Delete without asking for confirmation")
}

// CheckLimit rejects a negative --limit.
func CheckLimit(limit int) error {
	if limit < 0 {
		return FlagErrorf("--limit must not be negative")
	}
	return nil
}
