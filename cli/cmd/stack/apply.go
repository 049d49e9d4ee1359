package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/manifest"
)

// Manifest is one manifest file of a bundle.
type Manifest struct {
	// Name is shown in errors: the file's path, or "stdin".
	Name    string
	Content []byte
}

// Apply results.
const (
	ResultCreated   = "created"
	ResultUpdated   = "updated"
	ResultUnchanged = "unchanged"
)

// ReadManifests reads the manifests named by p: every top-level *.yaml and *.yml file of a
// directory in name order, one file, or stdin when p is "-".
func ReadManifests(p string, stdin io.Reader) ([]Manifest, error) {
	if p == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return []Manifest{{Name: "stdin", Content: b}}, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	if !st.IsDir() {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		return []Manifest{{Name: p, Content: b}}, nil
	}
	ms, err := ReadManifestDir(os.DirFS(p), ".")
	if err != nil {
		return nil, err
	}
	for i := range ms {
		ms[i].Name = filepath.Join(p, ms[i].Name)
	}
	return ms, nil
}

// ReadManifestDir reads the top-level *.yaml and *.yml files of dir in fsys, sorted by name.
// Subdirectories are not read.
func ReadManifestDir(fsys fs.FS, dir string) ([]Manifest, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		switch strings.ToLower(path.Ext(e.Name())) {
		case ".yaml", ".yml":
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("read manifests: no *.yaml or *.yml files in %s", dir)
	}
	sort.Strings(names)
	out := make([]Manifest, 0, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(fsys, path.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		out = append(out, Manifest{Name: n, Content: b})
	}
	return out, nil
}

// ValidateManifest checks that the agent can apply every object of m (see manifest.Parse);
// the error names the file.
func ValidateManifest(m Manifest) error {
	if _, err := manifest.Parse(string(m.Content)); err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	return nil
}

// BuildBundle validates the manifests and joins them into the bundle posted as one
// deployment object (see manifest.Bundle), which must hold at least one object.
func BuildBundle(ms []Manifest) (string, error) {
	if len(ms) == 0 {
		return "", errors.New("no manifests")
	}
	files := make([]string, 0, len(ms))
	for _, m := range ms {
		if err := ValidateManifest(m); err != nil {
			return "", err
		}
		files = append(files, string(m.Content))
	}
	bundle := manifest.Bundle(files...)
	if err := manifest.Validate(bundle); err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	return bundle, nil
}

// ApplyRequest describes one apply.
type ApplyRequest struct {
	Stack     string
	Generator string // name or id; required with an admin PAK to create the stack
	Labels    []string
	Bundle    string
	// Urgent makes the new object pass through apply windows.
	Urgent bool
}

// ApplyResult is the outcome of an apply; it is also the -o json output.
type ApplyResult struct {
	Result           string                   `json:"result"`
	Stack            client.Stack             `json:"stack"`
	DeploymentObject *client.DeploymentObject `json:"deployment_object"`
	StackCreated     bool                     `json:"-"`
}

// Apply makes a bundle the stack's latest deployment object: it resolves the owning
// generator, finds or creates the stack, adds the labels, and posts the bundle unless the
// latest object already has its checksum (and is urgent, when the request is).
func Apply(ctx context.Context, c *client.Client, req ApplyRequest) (ApplyResult, error) {
	var res ApplyResult
	genID, err := owningGenerator(ctx, c, req.Generator)
	if err != nil {
		return res, err
	}
	st, created, err := findOrCreateStack(ctx, c, req.Stack, genID)
	if err != nil {
		return res, err
	}
	res.Stack, res.StackCreated = st, created
	for _, l := range req.Labels {
		if _, err := c.Stacks().AddLabel(ctx, st.ID, l); err != nil && !client.IsConflict(err) {
			return res, fmt.Errorf("add label %s to stack %s: %w", l, st.Name, err)
		}
	}
	// Only the checksum of the newest object matters: one request for one row, without YAML.
	latest, err := c.Stacks().LatestDeploymentObject(ctx, st.ID, false)
	if err != nil {
		return res, fmt.Errorf("read the latest deployment object of stack %s: %w", st.Name, err)
	}
	sum := manifest.Checksum(req.Bundle)
	res.Result = ResultCreated
	if latest != nil {
		if latest.YAMLChecksum == sum && !latest.IsDeletionMarker && (latest.Urgent || !req.Urgent) {
			// Equal SHA-256: the stored YAML is the bundle.
			latest.YAMLContent = req.Bundle
			res.Result = ResultUnchanged
			res.DeploymentObject = latest
			return res, nil
		}
		res.Result = ResultUpdated
	}
	obj, err := c.Stacks().CreateDeploymentObjectWithOptions(ctx, st.ID, req.Bundle, client.CreateObjectOptions{Urgent: req.Urgent})
	if err != nil {
		return res, fmt.Errorf("create deployment object in stack %s: %w", st.Name, err)
	}
	res.DeploymentObject = &obj
	return res, nil
}

// owningGenerator returns the generator the applied stack belongs to: a generator PAK's own
// (a --generator must name it), or the one named with an admin PAK; uuid.Nil for an admin PAK
// without --generator (the stack must then exist; it keeps its generator).
func owningGenerator(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error) {
	who, err := c.Auth().Verify(ctx)
	if err != nil {
		return uuid.Nil, fmt.Errorf("check PAK: %w", err)
	}
	switch {
	case who.Generator != nil:
		own := *who.Generator
		if ref == "" {
			return own, nil
		}
		if id, err := uuid.Parse(ref); err == nil {
			if id != own {
				return uuid.Nil, fmt.Errorf("--generator %s is not the generator of this PAK (%s)", ref, own)
			}
			return own, nil
		}
		g, err := c.Generators().Get(ctx, own)
		if err != nil {
			return uuid.Nil, fmt.Errorf("get generator %s: %w", own, err)
		}
		if g.Name != ref {
			return uuid.Nil, fmt.Errorf("--generator %s is not the generator of this PAK (%s)", ref, g.Name)
		}
		return own, nil
	case who.Admin:
		if ref == "" {
			return uuid.Nil, nil
		}
		g, err := resolve.Generator(ctx, c, ref)
		if err != nil {
			return uuid.Nil, err
		}
		return g.ID, nil
	}
	return uuid.Nil, errors.New("stack apply needs a generator or admin PAK")
}

func findOrCreateStack(ctx context.Context, c *client.Client, name string, genID uuid.UUID) (client.Stack, bool, error) {
	stacks, err := c.Stacks().List(ctx, nil)
	if err != nil {
		return client.Stack{}, false, fmt.Errorf("list stacks: %w", err)
	}
	var other bool
	for _, s := range stacks {
		if s.Name != name {
			continue
		}
		if s.GeneratorID == genID || genID == uuid.Nil {
			return s, false, nil
		}
		other = true
	}
	if other {
		return client.Stack{}, false, fmt.Errorf("stack %q belongs to another generator", name)
	}
	if genID == uuid.Nil {
		return client.Stack{}, false, fmt.Errorf("--generator is required with an admin PAK to create stack %q: name the generator that will own it", name)
	}
	s, err := c.Stacks().Create(ctx, client.CreateStackRequest{Name: name, GeneratorID: genID})
	if err != nil {
		return s, false, fmt.Errorf("create stack %s: %w", name, err)
	}
	return s, true, nil
}
