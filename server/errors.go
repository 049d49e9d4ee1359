package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

// APIError is an error with its HTTP status and the stable code clients match on.
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func apiError(status int, code, message string) *APIError {
	return &APIError{Status: status, Code: code, Message: message}
}

func badRequest(code, message string) *APIError {
	return apiError(http.StatusBadRequest, code, message)
}
func forbidden(code, message string) *APIError { return apiError(http.StatusForbidden, code, message) }
func notFound(code, message string) *APIError  { return apiError(http.StatusNotFound, code, message) }

func (e *APIError) with(key string, value any) *APIError {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = value
	return e
}

// orNotFound replaces db.ErrNotFound with a resource's own 404.
func orNotFound(err error, notFoundErr *APIError) error {
	if errors.Is(err, db.ErrNotFound) {
		return notFoundErr
	}
	return err
}

// errorResponse maps any error to a status and the JSON error body.
func errorResponse(err error) (int, client.ErrorBody) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status, client.ErrorBody{Code: ae.Code, Message: ae.Message, Details: ae.Details}
	}
	var ce *db.ConstraintError
	if errors.As(err, &ce) {
		body := client.ErrorBody{Details: map[string]any{"constraint": ce.Constraint}}
		switch {
		case errors.Is(ce.Kind, db.ErrConflict):
			body.Code, body.Message = "unique_violation", fmt.Sprintf("violates unique constraint `%s`", ce.Constraint)
			return http.StatusConflict, body
		case errors.Is(ce.Kind, db.ErrForeignKey):
			body.Code, body.Message = "foreign_key_violation", fmt.Sprintf("violates foreign key constraint `%s`", ce.Constraint)
			return http.StatusUnprocessableEntity, body
		case errors.Is(ce.Kind, db.ErrCheck):
			body.Code, body.Message = "check_violation", fmt.Sprintf("violates check constraint `%s`", ce.Constraint)
			return http.StatusUnprocessableEntity, body
		case errors.Is(ce.Kind, db.ErrNotNull):
			body.Code, body.Message = "not_null_violation", fmt.Sprintf("missing value for `%s`", ce.Constraint)
			return http.StatusUnprocessableEntity, body
		}
	}
	if errors.Is(err, db.ErrNotFound) {
		return http.StatusNotFound, client.ErrorBody{Code: "not_found", Message: "not found"}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return he.Code, client.ErrorBody{Code: "not_found", Message: "not found"}
		case http.StatusMethodNotAllowed:
			return he.Code, client.ErrorBody{Code: "method_not_allowed", Message: "method not allowed"}
		case http.StatusRequestEntityTooLarge:
			return he.Code, client.ErrorBody{Code: "payload_too_large", Message: "request body too large"}
		case http.StatusUnauthorized:
			return he.Code, client.ErrorBody{Code: "unauthorized", Message: "missing or invalid PAK"}
		}
		if he.Code < 500 {
			code := strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
			return he.Code, client.ErrorBody{Code: code, Message: fmt.Sprint(he.Message)}
		}
	}
	return http.StatusInternalServerError, client.ErrorBody{Code: "internal_error", Message: "internal server error"}
}

// handleError is echo's error handler: one place turns errors into responses, and 5xx
// errors are logged once with the request id.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := errorResponse(err)
	if status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed",
			slog.String("request_id", requestID(c)), slog.String("method", c.Request().Method),
			slog.String("path", c.Request().URL.Path), slog.Any("error", err))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	writeJSON(c, status, body)
}

// writeJSON writes v as JSON (without HTML escaping, so YAML and messages read naturally).
func writeJSON(c echo.Context, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"code":"internal_error","message":"encode response"}`)
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(status)
	_, _ = c.Response().Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// reply writes a JSON response; handlers return its result.
func reply(c echo.Context, status int, v any) error {
	writeJSON(c, status, v)
	return nil
}
