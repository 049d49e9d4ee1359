// Package openapitest checks HTTP exchanges with the broker against the
// project's OpenAPI document (package api), so API tests fail as soon as the
// server and the document disagree.
//
// Every exchange under /api/v1 must hit a documented operation, answer with a
// documented status, and carry a body that matches the documented schema for
// that status and content type. Requests are validated too, except through
// CheckResponse, which is meant for tests that send bad input on purpose.
// Routes outside /api/v1 (health, metrics, the document itself) and the
// WebSocket routes are not checked.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/brokkr/brokkr/api"
)

// BasePath is the prefix of every documented operation.
const BasePath = "/api/v1"

// Validator checks exchanges against the API document. It is safe for
// concurrent use.
type Validator struct {
	doc      *openapi3.T
	router   routers.Router
	reqOpts  *openapi3filter.Options
	respOpts *openapi3filter.Options

	mu   sync.Mutex
	seen map[string]int
}

// yamlMediaTypes carry raw YAML documented as a plain string.
var yamlMediaTypes = []string{"application/yaml", "text/yaml", "application/x-yaml"}

var registerDecoders sync.Once

// Format validators. Requests may spell UUIDs in any case; responses use the
// canonical lower-case form and UTC timestamps with a Z suffix.
var (
	uuidAnyCase   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	uuidLowerCase = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dateTimeUTC   = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?Z$`)
)

// regexpFormat adapts a regular expression to a string format validator.
type regexpFormat struct {
	re   *regexp.Regexp
	what string
}

func (f regexpFormat) Validate(value string) error {
	if !f.re.MatchString(value) {
		return fmt.Errorf("%q is not %s", value, f.what)
	}
	return nil
}

// New loads and validates the API document and prepares the router. It stops
// the test when the document is unusable.
func New(tb testing.TB) *Validator {
	tb.Helper()

	// Raw YAML bodies are documented as strings; kin-openapi would otherwise
	// parse them as YAML trees.
	registerDecoders.Do(func() {
		for _, mt := range yamlMediaTypes {
			openapi3filter.RegisterBodyDecoder(mt, openapi3filter.PlainBodyDecoder)
		}
	})

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.Document())
	if err != nil {
		tb.Fatalf("openapitest: load document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("openapitest: invalid document: %v", err)
	}
	// Match on the path only: the relative server URL carries no host or
	// scheme, so requests to any test server address are routed.
	doc.Servers = openapi3.Servers{{URL: BasePath}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatalf("openapitest: build router: %v", err)
	}

	return &Validator{
		doc:    doc,
		router: router,
		reqOpts: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.DisableSchemaErrorDetails(),
				openapi3.WithStringFormatValidator("uuid", regexpFormat{uuidAnyCase, "a UUID"}),
			},
		},
		respOpts: &openapi3filter.Options{
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
			IncludeResponseStatus: true,
			MultiError:            true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.DisableSchemaErrorDetails(),
				openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
					"uuid":      regexpFormat{uuidLowerCase, "a lower-case hyphenated UUID"},
					"date-time": regexpFormat{dateTimeUTC, "an RFC 3339 UTC timestamp ending in Z"},
				}),
			},
		},
		seen: map[string]int{},
	}
}

// Check validates one exchange: the request (method, path, query, headers
// and reqBody) and the response (status, headers and respBody). Problems are
// reported with tb.Errorf.
func (v *Validator) Check(tb testing.TB, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	tb.Helper()
	v.check(tb, req, reqBody, true, resp, respBody)
}

// CheckResponse validates the response of an exchange without validating
// its request, for tests that send invalid requests on purpose. The route
// must still be documented.
func (v *Validator) CheckResponse(tb testing.TB, req *http.Request, resp *http.Response, respBody []byte) {
	tb.Helper()
	v.check(tb, req, nil, false, resp, respBody)
}

// Seen returns how often each operation ("METHOD /path/template", e.g.
// "GET /agents/{id}") was exercised so far.
func (v *Validator) Seen() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.seen)
}

// Transport wraps next (http.DefaultTransport when nil) so that every
// exchange made through it is checked with CheckResponse. Response bodies
// are buffered and handed on unchanged.
func (v *Validator) Transport(tb testing.TB, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{v: v, tb: tb, next: next}
}

type transport struct {
	v    *Validator
	tb   testing.TB
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// A WebSocket upgrade: the body is the connection.
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	closeErr := resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("openapitest: read response body: %w", err)
	}
	if closeErr != nil {
		return nil, fmt.Errorf("openapitest: close response body: %w", closeErr)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	t.v.CheckResponse(t.tb, req, resp, body)
	return resp, nil
}

// checked reports whether the request is one the document describes: an
// /api/v1 route other than the WebSocket live tails and CORS preflights.
func checked(req *http.Request) bool {
	path := req.URL.Path
	if path != BasePath && !strings.HasPrefix(path, BasePath+"/") {
		return false
	}
	if req.Method == http.MethodOptions {
		return false
	}
	if strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		return false
	}
	rest := strings.TrimPrefix(path, BasePath)
	if rest == "/fleet/live" {
		return false
	}
	if parts := strings.Split(strings.Trim(rest, "/"), "/"); len(parts) == 3 && parts[0] == "stacks" && parts[2] == "live" {
		return false
	}
	return true
}

func (v *Validator) check(tb testing.TB, req *http.Request, reqBody []byte, validateRequest bool, resp *http.Response, respBody []byte) {
	tb.Helper()
	if req == nil || resp == nil {
		tb.Errorf("openapitest: nil request or response")
		return
	}
	if !checked(req) {
		return
	}
	ctx := context.Background()
	exchange := fmt.Sprintf("%s %s → %d", req.Method, req.URL.Path, resp.StatusCode)

	// Validate a copy so the caller's request is left untouched.
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	r.ContentLength = int64(len(reqBody))

	route, params, err := v.router.FindRoute(r)
	if err != nil {
		// Unknown routes and wrong methods are answered by the router, with
		// the JSON error body like every other error.
		if (errors.Is(err, routers.ErrPathNotFound) && resp.StatusCode == http.StatusNotFound) ||
			(errors.Is(err, routers.ErrMethodNotAllowed) && resp.StatusCode == http.StatusMethodNotAllowed) {
			if err := v.checkErrorBody(resp, respBody); err != nil {
				tb.Errorf("openapi: %s (undocumented route): %v\nresponse body: %s", exchange, err, excerpt(respBody))
			}
			return
		}
		tb.Errorf("openapi: %s: route is not documented: %v", exchange, err)
		return
	}

	op := route.Operation
	key := r.Method + " " + route.Path
	where := fmt.Sprintf("%s (%s) → %d", key, op.OperationID, resp.StatusCode)
	v.mu.Lock()
	v.seen[key]++
	v.mu.Unlock()

	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options:    v.reqOpts,
	}
	if validateRequest {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			tb.Errorf("openapi: %s: request: %v\nrequest body: %s", where, err, excerpt(reqBody))
		}
	}

	documented := op.Responses.Status(resp.StatusCode)
	if documented == nil {
		documented = op.Responses.Default()
	}
	if documented == nil || documented.Value == nil {
		tb.Errorf("openapi: %s: status %d is not documented for %s", where, resp.StatusCode, op.OperationID)
		return
	}
	if len(documented.Value.Content) == 0 {
		if len(bytes.TrimSpace(respBody)) != 0 {
			tb.Errorf("openapi: %s: response has a body but none is documented\nresponse body: %s", where, excerpt(respBody))
		}
		return
	}

	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: params,
			Route:      route,
			Options:    v.respOpts,
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: v.respOpts,
	}
	rin.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, rin); err != nil {
		tb.Errorf("openapi: %s: response: %v\nresponse body: %s", where, err, excerpt(respBody))
	}
}

// checkErrorBody validates a router-level error answer against ErrorResponse.
func (v *Validator) checkErrorBody(resp *http.Response, body []byte) error {
	ref := v.doc.Components.Schemas["ErrorResponse"]
	if ref == nil || ref.Value == nil {
		return errors.New("document has no ErrorResponse schema")
	}
	content := openapi3.NewContentWithJSONSchemaRef(ref)
	if content.Get(resp.Header.Get("Content-Type")) == nil {
		return fmt.Errorf("content type %q, want application/json", resp.Header.Get("Content-Type"))
	}
	value, err := decodeJSON(body)
	if err != nil {
		return err
	}
	opts := append([]openapi3.SchemaValidationOption{openapi3.VisitAsResponse()}, v.respOpts.SchemaValidationOptions...)
	if err := ref.Value.VisitJSON(value, opts...); err != nil {
		return fmt.Errorf("body doesn't match ErrorResponse: %w", err)
	}
	return nil
}

// decodeJSON decodes a body the way the response validator does.
func decodeJSON(body []byte) (any, error) {
	h := http.Header{"Content-Type": []string{"application/json"}}
	value, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(body), h, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decode JSON body: %w", err)
	}
	return value, nil
}

// excerpt quotes the start of a body for error messages.
func excerpt(body []byte) string {
	const limit = 2000
	if len(body) > limit {
		return fmt.Sprintf("%q… (%d bytes)", body[:limit], len(body))
	}
	return fmt.Sprintf("%q", body)
}
