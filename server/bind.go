package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// readBody reads the whole request body, mapping an oversized body to 413.
func readBody(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiError(http.StatusRequestEntityTooLarge, "payload_too_large",
				fmt.Sprintf("request body exceeds %d bytes", mbe.Limit))
		}
		return nil, badRequest("invalid_request_body", "read request body: "+err.Error())
	}
	return b, nil
}

// mediaType returns the request's media type, lower-cased, without parameters.
func mediaType(c echo.Context) string {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	}
	return mt
}

func isJSONMediaType(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// bindJSON decodes a JSON request body into v. Unknown fields are ignored. A missing or
// non-JSON content type is 415, malformed JSON 400, a value of the wrong shape 422.
func bindJSON(c echo.Context, v any) error {
	if mt := mediaType(c); !isJSONMediaType(mt) {
		return apiError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"request body must be JSON (Content-Type: application/json)")
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes a JSON document into v with the status mapping of bindJSON.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("invalid_json", "request body is empty; a JSON document is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return badRequest("invalid_json", "malformed JSON: "+err.Error())
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return apiError(http.StatusUnprocessableEntity, "invalid_request_body",
				fmt.Sprintf("%s: expected %s, got JSON %s", field, te.Type, te.Value)).with("field", field)
		default:
			// A value the target type rejects itself (a malformed UUID or timestamp).
			if field := failingField(body, v); field != "" {
				return apiError(http.StatusUnprocessableEntity, "invalid_request_body",
					fmt.Sprintf("%s: %v", field, err)).with("field", field)
			}
			return apiError(http.StatusUnprocessableEntity, "invalid_request_body", err.Error())
		}
	}
	if dec.More() {
		return badRequest("invalid_json", "malformed JSON: unexpected data after the top-level value")
	}
	if _, bad := unstorableString(body); bad {
		return apiError(http.StatusUnprocessableEntity, "invalid_request_body", "text must not contain NUL characters")
	}
	return nil
}

// failingField names the top-level member of a JSON object body that fails to decode into
// v's type on its own, or returns "" when the body is not an object or no single member fails.
func failingField(body []byte, v any) string {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return ""
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		one, err := json.Marshal(map[string]json.RawMessage{name: members[name]})
		if err != nil {
			continue
		}
		if json.Unmarshal(one, reflect.New(t.Elem()).Interface()) != nil {
			return name
		}
	}
	return ""
}

// missing returns a 422 for an absent required field.
func missing(field string) *APIError {
	return apiError(http.StatusUnprocessableEntity, "invalid_request_body",
		fmt.Sprintf("missing field `%s`", field)).with("field", field)
}

// field names a required body field and whether it was present.
type field struct {
	name    string
	present bool
}

// requireFields returns a 422 for the first absent field.
func requireFields(fields ...field) error {
	for _, f := range fields {
		if !f.present {
			return missing(f.name)
		}
	}
	return nil
}

// param returns a path parameter, unescaped.
func param(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath != "" {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}

// uuidParam parses a UUID path parameter (400 when malformed).
func uuidParam(c echo.Context, name string) (uuid.UUID, error) {
	v := param(c, name)
	id, err := uuid.Parse(v)
	if err != nil || len(v) != 36 && len(v) != 32 {
		return uuid.Nil, badRequest("invalid_parameter", fmt.Sprintf("path parameter %s: %q is not a UUID", name, v)).with("parameter", name)
	}
	return id, nil
}

// uuidQuery parses an optional UUID query parameter.
func uuidQuery(c echo.Context, name string) (*uuid.UUID, error) {
	v := c.QueryParam(name)
	if v == "" {
		return nil, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return nil, badRequest("invalid_parameter", fmt.Sprintf("query parameter %s: %q is not a UUID", name, v)).with("parameter", name)
	}
	return &id, nil
}
