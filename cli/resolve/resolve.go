// Package resolve turns the names and ids people type into brokkrctl's arguments into the
// API objects they mean: an id is fetched (or, for the *ID functions, taken as is), a name
// is looked up in the list the caller's PAK can see.
package resolve

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// NotFoundError says a name matched nothing; it exits 1 like a 404.
type NotFoundError struct {
	Kind string
	Ref  string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Ref) }

// parseID reports whether ref (trimmed) is an id.
func parseID(ref string) (uuid.UUID, bool) {
	id, err := uuid.Parse(strings.TrimSpace(ref))
	return id, err == nil
}

// get fetches the kind of object with the id, naming it in the error.
func get[T any](ctx context.Context, kind string, id uuid.UUID, fetch func(context.Context, uuid.UUID) (T, error)) (T, error) {
	v, err := fetch(ctx, id)
	if err != nil {
		return v, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	return v, nil
}

// idOf returns the id ref names: an id as is, without a request, otherwise the id of what
// find resolves the name to.
func idOf[T any](ctx context.Context, c *client.Client, ref string, find func(context.Context, *client.Client, string) (T, error), id func(T) uuid.UUID) (uuid.UUID, error) {
	if v, ok := parseID(ref); ok {
		return v, nil
	}
	v, err := find(ctx, c, ref)
	return id(v), err
}

// named returns the items of list whose name is ref.
func named[T any](list []T, ref string, name func(T) string) []T {
	var out []T
	for _, v := range list {
		if name(v) == ref {
			out = append(out, v)
		}
	}
	return out
}

// Generator returns the generator named by ref: an id, or a name.
func Generator(ctx context.Context, c *client.Client, ref string) (client.Generator, error) {
	ref = strings.TrimSpace(ref)
	if id, ok := parseID(ref); ok {
		return get(ctx, "generator", id, c.Generators().Get)
	}
	gens, err := c.Generators().List(ctx)
	if err != nil {
		return client.Generator{}, fmt.Errorf("list generators: %w", err)
	}
	if found := named(gens, ref, func(g client.Generator) string { return g.Name }); len(found) > 0 {
		return found[0], nil
	}
	return client.Generator{}, &NotFoundError{Kind: "generator", Ref: ref}
}

// GeneratorID returns the id of the generator named by ref (an id is taken as is, without a
// request, so generator PAKs that may not list generators can still name themselves).
func GeneratorID(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error) {
	return idOf(ctx, c, ref, Generator, func(g client.Generator) uuid.UUID { return g.ID })
}

// Stack returns the stack named by ref: an id, or the name of a stack the caller can see.
// A name shared by stacks of several generators is ambiguous.
func Stack(ctx context.Context, c *client.Client, ref string) (client.Stack, error) {
	ref = strings.TrimSpace(ref)
	if id, ok := parseID(ref); ok {
		return get(ctx, "stack", id, c.Stacks().Get)
	}
	stacks, err := c.Stacks().List(ctx, nil)
	if err != nil {
		return client.Stack{}, fmt.Errorf("list stacks: %w", err)
	}
	found := named(stacks, ref, func(s client.Stack) string { return s.Name })
	switch len(found) {
	case 0:
		return client.Stack{}, &NotFoundError{Kind: "stack", Ref: ref}
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, s := range found {
		ids[i] = s.ID.String()
	}
	return client.Stack{}, fmt.Errorf("stack name %q is ambiguous (%s): use the id", ref, strings.Join(ids, ", "))
}

// StackID returns the id of the stack named by ref; an id is taken as is, without a request.
func StackID(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error) {
	return idOf(ctx, c, ref, Stack, func(s client.Stack) uuid.UUID { return s.ID })
}

// Agent returns the agent named by ref: an id, "NAME/CLUSTER", or a name that is unique.
func Agent(ctx context.Context, c *client.Client, ref string) (client.Agent, error) {
	ref = strings.TrimSpace(ref)
	if id, ok := parseID(ref); ok {
		return get(ctx, "agent", id, c.Agents().Get)
	}
	if name, cluster, ok := strings.Cut(ref, "/"); ok {
		a, err := c.Agents().Search(ctx, name, cluster)
		if client.IsNotFound(err) {
			return a, &NotFoundError{Kind: "agent", Ref: ref}
		}
		if err != nil {
			return a, fmt.Errorf("find agent %s: %w", ref, err)
		}
		return a, nil
	}
	agents, err := c.Agents().List(ctx)
	if err != nil {
		return client.Agent{}, fmt.Errorf("list agents: %w", err)
	}
	found := named(agents, ref, func(a client.Agent) string { return a.Name })
	switch len(found) {
	case 0:
		return client.Agent{}, &NotFoundError{Kind: "agent", Ref: ref}
	case 1:
		return found[0], nil
	}
	return client.Agent{}, fmt.Errorf("agent name %q is ambiguous: use NAME/CLUSTER or the id", ref)
}

// AgentID returns the id of the agent named by ref; an id is taken as is, without a request.
func AgentID(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error) {
	return idOf(ctx, c, ref, Agent, func(a client.Agent) uuid.UUID { return a.ID })
}

// Template returns the template version named by ref: an id, or a name (its latest version).
func Template(ctx context.Context, c *client.Client, ref string) (client.StackTemplate, error) {
	ref = strings.TrimSpace(ref)
	if id, ok := parseID(ref); ok {
		return get(ctx, "template", id, c.Templates().Get)
	}
	versions, err := TemplateVersions(ctx, c, ref)
	if err != nil {
		return client.StackTemplate{}, err
	}
	if len(versions) == 0 {
		return client.StackTemplate{}, &NotFoundError{Kind: "template", Ref: ref}
	}
	return versions[len(versions)-1], nil
}

// TemplateID returns the id of the template version named by ref; an id is taken as is,
// without a request.
func TemplateID(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error) {
	return idOf(ctx, c, ref, Template, func(t client.StackTemplate) uuid.UUID { return t.ID })
}

// TemplateVersions returns the live versions of the templates called name, oldest first.
func TemplateVersions(ctx context.Context, c *client.Client, name string) ([]client.StackTemplate, error) {
	all, err := c.Templates().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	out := named(all, name, func(t client.StackTemplate) string { return t.Name })
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// StackObjects returns a stack's live deployment objects, highest sequence first. limit > 0
// stops after the limit newest; without withYAML their yaml_content is left empty, which
// spares downloading every version of the manifests.
func StackObjects(ctx context.Context, c *client.Client, stackID uuid.UUID, limit int, withYAML bool) ([]client.DeploymentObject, error) {
	var objs []client.DeploymentObject
	opts := &client.DeploymentObjectListOptions{WithoutYAML: !withYAML}
	for {
		if limit > 0 {
			opts.Limit = limit - len(objs)
		}
		page, err := c.Stacks().DeploymentObjectsPage(ctx, stackID, opts)
		if err != nil {
			return nil, fmt.Errorf("list deployment objects: %w", err)
		}
		objs = append(objs, page.Items...)
		if page.NextCursor == "" || page.NextCursor == opts.Cursor || (limit > 0 && len(objs) >= limit) {
			break
		}
		opts.Cursor = page.NextCursor
	}
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].SequenceID > objs[j].SequenceID })
	if limit > 0 && len(objs) > limit {
		objs = objs[:limit]
	}
	return objs, nil
}

// OptionalGeneratorID is GeneratorID for an optional flag: "" names no generator (nil).
func OptionalGeneratorID(ctx context.Context, c *client.Client, ref string) (*uuid.UUID, error) {
	if ref == "" {
		return nil, nil
	}
	id, err := GeneratorID(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	return &id, nil
}
