package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// PostgreSQL's text and jsonb cannot hold a NUL character, and names, labels and keys are
// text: a request carrying one (or bytes that are not UTF-8) in its path, its query or any
// string of its JSON body is refused up front with a client error, instead of failing in
// the database with a server error or being stored altered.

// storableText reports whether s can be stored as PostgreSQL text unchanged.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// rejectUnstorableText is middleware refusing a path or query that, once decoded, holds text
// PostgreSQL cannot store.
func (s *Server) rejectUnstorableText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !storableText(r.URL.Path) {
			return badRequest("invalid_path", "the request path holds a NUL character or bytes that are not UTF-8")
		}
		if r.URL.RawQuery != "" {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				return badRequest("invalid_query", "malformed query string: "+err.Error())
			}
			for k, vs := range q {
				if !storableText(k) {
					return badRequest("invalid_query", "a query parameter name holds a NUL character or bytes that are not UTF-8")
				}
				for _, v := range vs {
					if !storableText(v) {
						return badRequest("invalid_parameter", "query parameter "+k+" holds a NUL character or bytes that are not UTF-8").with("parameter", k)
					}
				}
			}
		}
		return next(c)
	}
}

// unstorableString returns the first key or string value of a JSON document that holds a
// NUL character ("" when there is none). Invalid UTF-8 needs no check here: the decoder
// already turned it into U+FFFD.
func unstorableString(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return "", false
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
			return s, true
		}
	}
}
