package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Stacks is the handle for stacks, their labels, annotations, deployment objects and
// telemetry. A stack is "owned" by the admin and by the generator it belongs to.
type Stacks struct{ c *Client }

// Stacks returns the stack handle.
func (c *Client) Stacks() *Stacks { return &Stacks{c: c} }

// List returns the live stacks: for the admin all of them, or those of generatorID when it
// is not nil; for a generator PAK its own stacks (generatorID is ignored). It reads every
// page; ListPage reads one.
func (s *Stacks) List(ctx context.Context, generatorID *uuid.UUID) ([]Stack, error) {
	return listAll[Stack](ctx, s.c, stacksRequest(generatorID), 0)
}

// ListPage returns one page of the live stacks, oldest first.
func (s *Stacks) ListPage(ctx context.Context, generatorID *uuid.UUID, opts *ListOptions) (Page[Stack], error) {
	return listPage[Stack](ctx, s.c, stacksRequest(generatorID), opts)
}

func stacksRequest(generatorID *uuid.UUID) request {
	q := url.Values{}
	if generatorID != nil {
		q.Set("pak_id", generatorID.String())
	}
	return request{method: http.MethodGet, path: "/stacks", query: q}
}

// Create adds a stack (admin, or the generator named by req.GeneratorID).
func (s *Stacks) Create(ctx context.Context, req CreateStackRequest) (Stack, error) {
	return call[Stack](ctx, s.c, request{method: http.MethodPost, path: "/stacks", body: req})
}

// Get returns a stack (owner).
func (s *Stacks) Get(ctx context.Context, id uuid.UUID) (Stack, error) {
	return call[Stack](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id)})
}

// Update writes every field of st except its id, which names the stack to change; nil
// fields leave their column unchanged. Read the stack, change it, and send it back (owner).
func (s *Stacks) Update(ctx context.Context, st Stack) (Stack, error) {
	return call[Stack](ctx, s.c, request{method: http.MethodPut, path: path("stacks", st.ID), body: st})
}

// Delete soft-deletes a stack and its deployment objects, leaving a deletion marker
// (owner).
func (s *Stacks) Delete(ctx context.Context, id uuid.UUID) error {
	_, err := s.c.do(ctx, request{method: http.MethodDelete, path: path("stacks", id)}, nil)
	return err
}

// Labels returns the stack's labels (owner, or an agent explicitly targeting the stack).
func (s *Stacks) Labels(ctx context.Context, id uuid.UUID) ([]StackLabel, error) {
	return call[[]StackLabel](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "labels")})
}

// AddLabel attaches a label: non-blank, at most 64 bytes, no whitespace (owner).
func (s *Stacks) AddLabel(ctx context.Context, id uuid.UUID, label string) (StackLabel, error) {
	return call[StackLabel](ctx, s.c, request{method: http.MethodPost, path: path("stacks", id, "labels"), body: label})
}

// RemoveLabel detaches a label; a label the stack does not have is a 404 (owner).
func (s *Stacks) RemoveLabel(ctx context.Context, id uuid.UUID, label string) error {
	_, err := s.c.do(ctx, request{method: http.MethodDelete, path: path("stacks", id, "labels", label)}, nil)
	return err
}

// Annotations returns the stack's annotations (owner, or an agent explicitly targeting the
// stack).
func (s *Stacks) Annotations(ctx context.Context, id uuid.UUID) ([]StackAnnotation, error) {
	return call[[]StackAnnotation](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "annotations")})
}

// AddAnnotation attaches a key/value annotation; a key the stack already has is a 409
// (owner).
func (s *Stacks) AddAnnotation(ctx context.Context, id uuid.UUID, key, value string) (StackAnnotation, error) {
	return call[StackAnnotation](ctx, s.c, request{method: http.MethodPost, path: path("stacks", id, "annotations"),
		body: NewStackAnnotation{StackID: id, Key: key, Value: value}})
}

// RemoveAnnotation detaches the annotation with this key (owner).
func (s *Stacks) RemoveAnnotation(ctx context.Context, id uuid.UUID, key string) error {
	_, err := s.c.do(ctx, request{method: http.MethodDelete, path: path("stacks", id, "annotations", key)}, nil)
	return err
}

// DeploymentObjects returns all the stack's live deployment objects with their YAML,
// highest sequence id first, reading every page (owner). To read less, use
// DeploymentObjectsPage or LatestDeploymentObject.
func (s *Stacks) DeploymentObjects(ctx context.Context, id uuid.UUID) ([]DeploymentObject, error) {
	return listAll[DeploymentObject](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "deployment-objects")}, 0)
}

// DeploymentObjectListOptions select a page of a stack's deployment objects.
type DeploymentObjectListOptions struct {
	ListOptions
	// WithoutYAML leaves yaml_content empty: checksums, sequence ids and markers only.
	WithoutYAML bool
}

// DeploymentObjectsPage returns one page of the stack's live deployment objects, highest
// sequence id first (the broker's default page is the 100 newest) (owner).
func (s *Stacks) DeploymentObjectsPage(ctx context.Context, id uuid.UUID, opts *DeploymentObjectListOptions) (Page[DeploymentObject], error) {
	r := request{method: http.MethodGet, path: path("stacks", id, "deployment-objects"), query: url.Values{}}
	var lo *ListOptions
	if opts != nil {
		lo = &opts.ListOptions
		if opts.WithoutYAML {
			r.query.Set("include_yaml", "false")
		}
	}
	return listPage[DeploymentObject](ctx, s.c, r, lo)
}

// LatestDeploymentObject returns the stack's live deployment object with the highest
// sequence id, or nil when the stack has none, in one request for one row; withYAML false
// leaves its yaml_content empty (owner).
func (s *Stacks) LatestDeploymentObject(ctx context.Context, id uuid.UUID, withYAML bool) (*DeploymentObject, error) {
	p, err := s.DeploymentObjectsPage(ctx, id, &DeploymentObjectListOptions{ListOptions: ListOptions{Limit: 1}, WithoutYAML: !withYAML})
	if err != nil || len(p.Items) == 0 {
		return nil, err
	}
	return &p.Items[0], nil
}

// CreateDeploymentObject adds a new version of the stack's manifests. The YAML is sent as
// is (Content-Type application/yaml), so its checksum is that of these exact bytes; every
// document must parse. A deletion marker may have empty content (owner).
func (s *Stacks) CreateDeploymentObject(ctx context.Context, id uuid.UUID, yaml string, deletionMarker bool) (DeploymentObject, error) {
	q := url.Values{"deletion_marker": {strconv.FormatBool(deletionMarker)}}
	return call[DeploymentObject](ctx, s.c, request{method: http.MethodPost, path: path("stacks", id, "deployment-objects"),
		query: q, raw: []byte(yaml), ctype: "application/yaml"})
}

// Instantiate renders a template with parameters (any JSON-encodable value; its top-level
// keys become the template's variables when it is an object, nil sends {}) and stores the
// result as a new deployment object of the stack. The stack must carry every label and
// annotation of the template (owner of the stack with read access to the template).
func (s *Stacks) Instantiate(ctx context.Context, stackID, templateID uuid.UUID, parameters any) (DeploymentObject, error) {
	raw, err := encodeParameters(parameters)
	if err != nil {
		return DeploymentObject{}, err
	}
	return call[DeploymentObject](ctx, s.c, request{method: http.MethodPost,
		path: path("stacks", stackID, "deployment-objects", "from-template"),
		body: TemplateInstantiationRequest{TemplateID: templateID, Parameters: raw}})
}

// Health returns the health of the stack's reported deployment objects; it is
// DeploymentHealth().Stack (admin).
func (s *Stacks) Health(ctx context.Context, id uuid.UUID) (StackHealthResponse, error) {
	return s.c.DeploymentHealth().Stack(ctx, id)
}

// TelemetryOptions bound Events and Logs; zero fields take the broker's defaults.
type TelemetryOptions struct {
	Since time.Time // oldest row to return; the broker keeps at most 6 hours
	Limit int       // 1..5000, default 500
}

func (o *TelemetryOptions) query() url.Values {
	q := url.Values{}
	if o != nil {
		if !o.Since.IsZero() {
			q.Set("since", o.Since.UTC().Format(time.RFC3339Nano))
		}
		if o.Limit > 0 {
			q.Set("limit", strconv.Itoa(o.Limit))
		}
	}
	return q
}

// Events returns the Kubernetes events agents forwarded for the stack, newest first, with
// the broker's retention window (owner).
func (s *Stacks) Events(ctx context.Context, id uuid.UUID, opts *TelemetryOptions) (K8sEventHistory, error) {
	return call[K8sEventHistory](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "events"), query: opts.query()})
}

// Logs returns the pod log lines agents forwarded for the stack, newest first, with the
// broker's retention window (owner).
func (s *Stacks) Logs(ctx context.Context, id uuid.UUID, opts *TelemetryOptions) (PodLogHistory, error) {
	return call[PodLogHistory](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "logs"), query: opts.query()})
}

// DeploymentObjects is the handle for reading single deployment objects. Their diagnostics
// and health live on Diagnostics and DeploymentHealth.
type DeploymentObjects struct{ c *Client }

// DeploymentObjects returns the deployment object handle.
func (c *Client) DeploymentObjects() *DeploymentObjects { return &DeploymentObjects{c: c} }

// Get returns a deployment object (admin, the generator owning its stack, or an agent
// explicitly targeting its stack).
func (d *DeploymentObjects) Get(ctx context.Context, id uuid.UUID) (DeploymentObject, error) {
	return call[DeploymentObject](ctx, d.c, request{method: http.MethodGet, path: path("deployment-objects", id)})
}

// GetYAML returns a deployment object's raw YAML content (callers as for Get).
func (d *DeploymentObjects) GetYAML(ctx context.Context, id uuid.UUID) (string, error) {
	var raw []byte
	_, err := d.c.do(ctx, request{method: http.MethodGet, path: path("deployment-objects", id), accept: "application/yaml"}, &raw)
	return string(raw), err
}
