// Package watch re-renders a command's output every interval (the --watch of list commands)
// and holds the terminal control sequence the live views redraw with.
package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
)

// ClearScreen moves the cursor home and clears the terminal.
const ClearScreen = "\x1b[H\x1b[2J"

// MinInterval is the shortest --interval a watch accepts.
const MinInterval = 100 * time.Millisecond

// AddFlags registers -w/--watch and --interval on cmd.
func AddFlags(cmd *cobra.Command, on *bool, interval *time.Duration) {
	cmd.Flags().BoolVarP(on, "watch", "w", false, "Keep polling and re-render the list")
	cmd.Flags().DurationVar(interval, "interval", 2*time.Second, "Polling interval of --watch")
}

// CheckFlags rejects an --interval too short for a watch, as a usage error.
func CheckFlags(on bool, interval time.Duration) error {
	if on && interval < MinInterval {
		return cmdutil.FlagErrorf("--interval must be at least 100ms")
	}
	return nil
}

// Render renders once, or, when on, keeps polling as Poll does.
func Render(ctx context.Context, p *output.Printer, on bool, interval time.Duration, title string, render func(context.Context, *output.Printer) error) error {
	if !on {
		return render(ctx, p)
	}
	return Poll(ctx, p, interval, title, render)
}

// Poll renders a snapshot every interval until ctx ends. On a terminal each snapshot
// replaces the previous one under a title line; otherwise a snapshot is printed only when it
// differs from the last one (YAML snapshots are separated by "---"). The first failure is
// fatal; later ones are reported on stderr and polling continues.
func Poll(ctx context.Context, p *output.Printer, interval time.Duration, title string, render func(context.Context, *output.Printer) error) error {
	ios := p.IO
	tty := ios.IsStdoutTTY()
	var last []byte
	for n := 0; ; n++ {
		var buf, errBuf bytes.Buffer
		snapIO := *ios
		snapIO.Out, snapIO.ErrOut = &buf, &errBuf
		snap := *p
		snap.IO = &snapIO
		err := render(ctx, &snap)
		switch {
		case err != nil && (ctx.Err() != nil || errors.Is(err, context.Canceled)):
			return nil
		case err != nil && n == 0:
			return err
		case err != nil:
			fmt.Fprintf(ios.ErrOut, "%s %v\n", ios.ColorScheme().WarningIcon(), err)
		case tty:
			fmt.Fprintf(ios.Out, "%sEvery %s: %s    %s\n\n", ClearScreen, interval, title, p.Now().Format(time.TimeOnly))
			_, _ = ios.Out.Write(buf.Bytes())
			_, _ = ios.Out.Write(errBuf.Bytes())
		case !bytes.Equal(buf.Bytes(), last):
			if last != nil && p.Format == output.FormatYAML {
				fmt.Fprintln(ios.Out, "---")
			}
			_, _ = ios.Out.Write(buf.Bytes())
			last = append([]byte(nil), buf.Bytes()...)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
