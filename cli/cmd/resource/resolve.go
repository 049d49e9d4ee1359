// Package resource holds what the resource nouns of brokkrctl share: resolving the names and
// ids people type into API objects, shell completion of them, the label and annotation verbs,
// and polling helpers for --watch.
package resource

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/client"
)

// NotFoundError says a name matched nothing; it exits 1 like a 404.
type NotFoundError struct {
	Kind string
	Ref  string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Ref) }

// Generator returns the generator named by ref: an id, or a name.
func Generator(ctx context.Context, c *client.Client, ref string) (client.Generator, error) {
	ref = strings.TrimSpace(ref)
	if id, err := uuid.Parse(ref); err == nil {
		g, err := c.Generators().Get(ctx, id)
		if err != nil {
			return g, fmt.Errorf("get generator %s: %w", id, err)
		}
		return g, nil
	}
	gens, err := c.Generators().List(ctx)
	if err != nil {
		return client.Generator{}, fmt.Errorf("list generators: %w", err)
	}
	for _, g := range gens {
		if g.Name == ref {
			return g, nil
		}
	}
	return client.Generator{}, &NotFoundError{Kind: "generator", Ref: ref}
}

// GeneratorID returns the id of the generator named by ref (an id is taken as is, without a
// request, so generator PAKs that may not list generators can still name themselves).
func GeneratorID(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error) {
	if id, err := uuid.Parse(strings.TrimSpace(ref)); err == nil {
		return id, nil
	}
	g, err := Generator(ctx, c, ref)
	return g.ID, err
}

// Stack returns the stack named by ref: an id, or the name of a stack the caller can see.
// A name shared by stacks of several generators is ambiguous.
func Stack(ctx context.Context, c *client.Client, ref string) (client.Stack, error) {
	ref = strings.TrimSpace(ref)
	if id, err := uuid.Parse(ref); err == nil {
		s, err := c.Stacks().Get(ctx, id)
		if err != nil {
			return s, fmt.Errorf("get stack %s: %w", id, err)
		}
		return s, nil
	}
	stacks, err := c.Stacks().List(ctx, nil)
	if err != nil {
		return client.Stack{}, fmt.Errorf("list stacks: %w", err)
	}
	var found []client.Stack
	for _, s := range stacks {
		if s.Name == ref {
			found = append(found, s)
		}
	}
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

// Agent returns the agent named by ref: an id, "NAME/CLUSTER", or a name that is unique.
func Agent(ctx context.Context, c *client.Client, ref string) (client.Agent, error) {
	ref = strings.TrimSpace(ref)
	if id, err := uuid.Parse(ref); err == nil {
		a, err := c.Agents().Get(ctx, id)
		if err != nil {
			return a, fmt.Errorf("get agent %s: %w", id, err)
		}
		return a, nil
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
	var found []client.Agent
	for _, a := range agents {
		if a.Name == ref {
			found = append(found, a)
		}
	}
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
	if id, err := uuid.Parse(strings.TrimSpace(ref)); err == nil {
		return id, nil
	}
	a, err := Agent(ctx, c, ref)
	return a.ID, err
}

// StackID returns the id of the stack named by ref; an id is taken as is, without a request.
func StackID(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error) {
	if id, err := uuid.Parse(strings.TrimSpace(ref)); err == nil {
		return id, nil
	}
	s, err := Stack(ctx, c, ref)
	return s.ID, err
}

// Template returns the template version named by ref: an id, or a name (its latest version).
func Template(ctx context.Context, c *client.Client, ref string) (client.StackTemplate, error) {
	ref = strings.TrimSpace(ref)
	if id, err := uuid.Parse(ref); err == nil {
		t, err := c.Templates().Get(ctx, id)
		if err != nil {
			return t, fmt.Errorf("get template %s: %w", id, err)
		}
		return t, nil
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

// TemplateVersions returns the live versions of the templates called name, oldest first.
func TemplateVersions(ctx context.Context, c *client.Client, name string) ([]client.StackTemplate, error) {
	all, err := c.Templates().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	var out []client.StackTemplate
	for _, t := range all {
		if t.Name == name {
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// ObjectsOf returns a stack's live deployment objects, highest sequence first. limit > 0
// stops after the limit newest; without withYAML their yaml_content is left empty, which
// spares downloading every version of the manifests.
func ObjectsOf(ctx context.Context, c *client.Client, stackID uuid.UUID, limit int, withYAML bool) ([]client.DeploymentObject, error) {
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

// ParseID is cmdutil.ParseUUID for an argument.
func ParseID(what, s string) (uuid.UUID, error) { return cmdutil.ParseUUID(what, s) }

// Short abbreviates a checksum or id for tables.
func Short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// OrDash returns "-" for an empty or nil string.
func OrDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// BoolPtr renders an optional boolean: yes, no or -.
func BoolPtr(b *bool) string {
	switch {
	case b == nil:
		return "-"
	case *b:
		return "yes"
	}
	return "no"
}

// IntPtr renders an optional number or -.
func IntPtr[T ~int32 | ~int64](n *T) string {
	if n == nil {
		return "-"
	}
	return strconv.FormatInt(int64(*n), 10)
}
