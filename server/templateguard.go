package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/tmpl"
	"github.com/labstack/echo/v4"
)

// templateGuard bounds the template work of one replica, so that hostile templates cannot
// exhaust it: every template is measured before it is parsed (broker.template_max_nesting →
// 422 template_too_deep), a rendering stops at its deadline (broker.template_render_timeout_ms
// → 422 template_render_timeout) and its output at broker.max_body_bytes, and checks and
// renderings take one of broker.template_max_concurrent_renders slots or are refused (429
// too_many_renders with Retry-After).
type templateGuard struct {
	opts       tmpl.Options
	slots      chan struct{}
	retryAfter int // seconds: about the time a rendering may take
}

func newTemplateGuard(b config.BrokerSettings) *templateGuard {
	slots := b.TemplateMaxConcurrentRenders
	if slots <= 0 {
		slots = 4
	}
	g := &templateGuard{
		opts: tmpl.Options{
			MaxNesting:     b.TemplateMaxNesting,
			Timeout:        time.Duration(b.TemplateRenderTimeoutMillis) * time.Millisecond,
			MaxOutputBytes: int(min(b.MaxBodyBytes, math.MaxInt32)),
		},
		slots: make(chan struct{}, slots),
	}
	g.opts = g.opts.WithDefaults()
	g.retryAfter = max(1, int((g.opts.Timeout+time.Second-1)/time.Second))
	return g
}

// acquire takes a slot, or refuses at once when every slot is busy; release gives it back.
func (g *templateGuard) acquire(c echo.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	default:
		c.Response().Header().Set("Retry-After", strconv.Itoa(g.retryAfter))
		return nil, apiError(http.StatusTooManyRequests, "too_many_renders",
			fmt.Sprintf("every template slot of this replica is busy (%d); retry after %d s", cap(g.slots), g.retryAfter)).
			with("retry_after_seconds", g.retryAfter)
	}
}

// check checks the syntax of a template's content: 422 template_too_deep, 400
// invalid_template_syntax.
func (g *templateGuard) check(c echo.Context, src string) error {
	release, err := g.acquire(c)
	if err != nil {
		return err
	}
	err = g.opts.Check(src)
	release()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tmpl.ErrTooDeep):
		return apiError(http.StatusUnprocessableEntity, "template_too_deep", "template_content: "+err.Error()).
			with("max_nesting", g.opts.MaxNesting)
	}
	return badRequest("invalid_template_syntax", "template_content: "+err.Error())
}

// render renders a stored template: 422 template_too_deep (a template stored under a higher
// limit), 422 template_render_timeout, 400 template_render_failed.
func (g *templateGuard) render(c echo.Context, src string, vars map[string]any) (string, error) {
	release, err := g.acquire(c)
	if err != nil {
		return "", err
	}
	out, err := g.opts.Render(c.Request().Context(), src, vars)
	release()
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, tmpl.ErrTooDeep):
		return "", apiError(http.StatusUnprocessableEntity, "template_too_deep", "template: "+err.Error()).
			with("max_nesting", g.opts.MaxNesting)
	case errors.Is(err, tmpl.ErrTimeout):
		return "", apiError(http.StatusUnprocessableEntity, "template_render_timeout", err.Error()).
			with("timeout_ms", g.opts.Timeout.Milliseconds())
	case errors.Is(err, context.Canceled):
		return "", err // the client went away
	}
	return "", badRequest("template_render_failed", err.Error())
}
