package resource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/brokkr/brokkr/cli/output"
)

// ClearScreen moves the cursor home and clears the terminal.
const ClearScreen = "\x1b[H\x1b[2J"

// Watch renders a snapshot every interval until ctx ends. On a terminal each snapshot
// replaces the previous one under a title line; otherwise a snapshot is printed only when it
// differs from the last one (YAML snapshots are separated by "---"). The first failure is
// fatal; later ones are reported on stderr and polling continues.
func Watch(ctx context.Context, p *output.Printer, interval time.Duration, title string, render func(context.Context, *output.Printer) error) error {
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
