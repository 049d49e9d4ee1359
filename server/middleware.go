package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

func requestID(c echo.Context) string {
	if id, ok := c.Get("request_id").(string); ok {
		return id
	}
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// routinePolls are the routes every agent calls on every poll; their successes are logged at
// debug level (brokkr_http_requests_total counts them).
var routinePolls = map[string]bool{
	apiPrefix + "/agents/:id/target-state": true,
	apiPrefix + "/agents/:id/heartbeat":    true,
}

// accessLog writes one structured line per request (at debug level for operations
// endpoints, overload refusals and routine polls).
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			status, _ = errorResponse(err)
		}
		level := slog.LevelInfo
		path := c.Request().URL.Path
		var ae *APIError
		if path == "/healthz" || path == "/readyz" || path == "/metrics" ||
			// Refusals of an overloaded broker are counted (brokkr_http_rejected_requests_total);
			// a line for each would add to the load.
			(errors.As(err, &ae) && ae.Code == codeOverloaded) ||
			// So are the agents' routine polls, a line per agent every few seconds.
			status < 400 && routinePolls[c.Path()] {
			level = slog.LevelDebug
		}
		if !s.log.Enabled(c.Request().Context(), level) {
			return err
		}
		s.log.LogAttrs(c.Request().Context(), level, "request",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request().Method),
			slog.String("path", path),
			slog.String("route", c.Path()),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote_ip", c.RealIP()),
		)
		return err
	}
}

// recoverPanic turns a handler panic into a logged 500.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(r)
				}
				err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		return next(c)
	}
}

// bodyLimit caps request bodies at broker.max_body_bytes (413 beyond).
func (s *Server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := s.Config().Broker.MaxBodyBytes
		if limit <= 0 {
			limit = 2 << 20
		}
		req := c.Request()
		if req.ContentLength > limit {
			return apiError(http.StatusRequestEntityTooLarge, "payload_too_large",
				fmt.Sprintf("request body exceeds %d bytes", limit))
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		return next(c)
	}
}

// cors applies the configured CORS policy to API routes and a permissive one to the
// operations routes; preflight requests are answered here, before routing and authentication.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		origin := c.Request().Header.Get(echo.HeaderOrigin)
		if origin == "" {
			return next(c)
		}
		cfg := s.Config().CORS
		if !strings.HasPrefix(c.Request().URL.Path, apiPrefix+"/") {
			cfg.AllowedOrigins = []string{"*"}
			cfg.AllowedMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
			cfg.AllowedHeaders = []string{"*"}
		}
		h := c.Response().Header()
		h.Add(echo.HeaderVary, echo.HeaderOrigin)
		allowed := slices.Contains(cfg.AllowedOrigins, "*") || slices.Contains(cfg.AllowedOrigins, origin)
		preflight := c.Request().Method == http.MethodOptions &&
			c.Request().Header.Get(echo.HeaderAccessControlRequestMethod) != ""
		if !allowed {
			if preflight {
				return c.NoContent(http.StatusNoContent)
			}
			return next(c)
		}
		if slices.Contains(cfg.AllowedOrigins, "*") {
			h.Set(echo.HeaderAccessControlAllowOrigin, "*")
		} else {
			h.Set(echo.HeaderAccessControlAllowOrigin, origin)
		}
		if !preflight {
			h.Set(echo.HeaderAccessControlExposeHeaders, echo.HeaderXRequestID)
			return next(c)
		}
		h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestMethod)
		h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestHeaders)
		h.Set(echo.HeaderAccessControlAllowMethods, strings.Join(cfg.AllowedMethods, ", "))
		if len(cfg.AllowedHeaders) > 0 {
			h.Set(echo.HeaderAccessControlAllowHeaders, strings.Join(cfg.AllowedHeaders, ", "))
		}
		if cfg.MaxAgeSeconds > 0 {
			h.Set(echo.HeaderAccessControlMaxAge, strconv.Itoa(cfg.MaxAgeSeconds))
		}
		return c.NoContent(http.StatusNoContent)
	}
}
