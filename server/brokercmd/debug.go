package brokercmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/brokkr/brokkr/internal/logx"
)

// debugServer serves Go's profiler under /debug/pprof/ on a listener of its own
// (broker.debug_listen_addr), apart from the API and its middleware, authentication and
// admission limits: profiles are for the operators who can reach that address.
type debugServer struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// startDebug listens on addr and serves the profiler until stop is called. A listen error is
// returned at once, so a port in use fails the start of the broker.
func startDebug(ctx context.Context, addr string, log *slog.Logger) (*debugServer, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("broker.debug_listen_addr: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	d := &debugServer{ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}}
	go func() {
		defer close(d.done)
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("profiler listener failed", logx.Err(err))
		}
	}()
	return d, nil
}

// Addr is the address the profiler listens on.
func (d *debugServer) Addr() string { return d.ln.Addr().String() }

// stop closes the listener and every connection (a CPU profile in progress is cut short).
func (d *debugServer) stop() {
	_ = d.srv.Close()
	<-d.done
}
