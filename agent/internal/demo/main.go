// Command demo runs a demo fleet in one command (`make demo`): a broker on its embedded
// database in a temporary directory, three living clusters (etcd, kube-apiserver,
// controller-manager, scheduler and kwok fake nodes, from `make test-assets`), one
// brokkr-agent per cluster labelled env=dev, env=staging and env=prod, a generator and
// example stacks targeted by label. It prints how to point brokkrctl at the broker, then
// waits; SIGINT or SIGTERM stops the agents, the clusters and the broker and removes the
// temporary files.
//
// With -until-ready it exits (tearing everything down) once every stack has been applied
// by each agent it targets and its pods run, or fails after -timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the demo's settings.
type options struct {
	// binDir holds brokkr-broker, brokkr-agent and brokkrctl (`make build` writes bin/).
	binDir string
	// listen is the broker's listen address.
	listen string
	// untilReady ends the demo once the fleet is ready.
	untilReady bool
	// timeout bounds the wait for readiness with untilReady.
	timeout time.Duration
	// out receives what the demo tells its user.
	out io.Writer
	// onReady, when set, is called with the fleet up and ready, before an untilReady
	// demo tears down.
	onReady func(ctx context.Context, f *fleet) error
}

func main() {
	opts := options{out: os.Stdout}
	flag.StringVar(&opts.binDir, "bin", "bin", "directory of brokkr-broker, brokkr-agent and brokkrctl (make build)")
	flag.StringVar(&opts.listen, "listen", "127.0.0.1:3030", "the broker's listen address (host:port; port 0 picks a free one)")
	flag.BoolVar(&opts.untilReady, "until-ready", false, "exit once every stack runs on every agent it targets (tearing everything down)")
	flag.DurationVar(&opts.timeout, "timeout", 5*time.Minute, "with -until-ready: how long to wait for the fleet to be ready")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	// The demo keeps catching the signals until its teardown is over: a second Ctrl-C
	// must not leave clusters or a database behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, opts)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// run brings the fleet up, waits (for readiness with untilReady, else for ctx to end) and
// tears everything down before it returns.
func run(ctx context.Context, opts options) (err error) {
	f, err := newFleet(opts)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := f.stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	if err := f.start(ctx); err != nil {
		if ctx.Err() != nil && !opts.untilReady {
			return nil // interrupted while starting: a clean stop
		}
		return err
	}
	if !opts.untilReady {
		if err := f.awaitReady(ctx, 0); err != nil && ctx.Err() == nil {
			f.say("the fleet is not ready: %v (it keeps running; Ctrl-C stops it)", err)
		}
		<-ctx.Done()
		return nil
	}
	if err := f.awaitReady(ctx, opts.timeout); err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted before the fleet was ready")
		}
		return err
	}
	if opts.onReady != nil {
		return opts.onReady(ctx, f)
	}
	return nil
}
