package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// fleetFile is what -reuse keeps of a fleet between runs: the agents' keys are shown only
// once, so without it every agent's key would have to be rotated again.
type fleetFile struct {
	URL         string       `json:"url"`
	Prefix      string       `json:"prefix"`
	GeneratorID uuid.UUID    `json:"generator_id"`
	StackID     uuid.UUID    `json:"stack_id"`
	Agents      []simAgentID `json:"agents"`
}

// defaultFleetFile is where -reuse keeps a prefix's fleet unless -fleet-file names a file.
func defaultFleetFile(prefix string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "brokkr-fleetsim", prefix+".json")
}

// loadFleetFile reads cfg.FleetFile and checks it still describes a fleet of this broker:
// same URL and prefix, the stack still there, and the keys of its first and last agent
// accepted. It returns nil (saying why on progress) when the file cannot be used.
func loadFleetFile(ctx context.Context, cfg Config, admin *client.Client, progress io.Writer) *fleetFile {
	b, err := os.ReadFile(cfg.FleetFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var ff fleetFile
	if err == nil {
		err = json.Unmarshal(b, &ff)
	}
	if err == nil {
		err = checkFleetFile(ctx, cfg, admin, &ff)
	}
	if err != nil {
		fmt.Fprintf(progress, "fleet file %s not used: %v\n", cfg.FleetFile, err)
		return nil
	}
	return &ff
}

func checkFleetFile(ctx context.Context, cfg Config, admin *client.Client, ff *fleetFile) error {
	switch {
	case ff.URL != cfg.URL || ff.Prefix != cfg.Prefix:
		return fmt.Errorf("written for %s, prefix %s", ff.URL, ff.Prefix)
	case len(ff.Agents) == 0:
		return errors.New("no agents")
	}
	if _, err := admin.Stacks().Get(ctx, ff.StackID); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	for _, a := range []simAgentID{ff.Agents[0], ff.Agents[len(ff.Agents)-1]} {
		c, err := client.New(cfg.URL, client.WithPAK(a.PAK), client.WithUserAgent(userAgent))
		if err == nil {
			_, err = c.Agents().Get(ctx, a.ID)
		}
		if err != nil {
			return fmt.Errorf("agent %s: %w", a.ID, err)
		}
	}
	return nil
}

// saveFleetFile writes the fleet, keeping the agents of an earlier, larger run that this
// one did not use. The file holds keys: it is readable by its owner only.
func saveFleetFile(cfg Config, f *fleet, saved *fleetFile) error {
	ff := fleetFile{URL: cfg.URL, Prefix: cfg.Prefix, GeneratorID: f.genID, StackID: f.stackID, Agents: f.agents}
	if saved != nil && len(saved.Agents) > len(f.agents) {
		ff.Agents = append(append([]simAgentID(nil), f.agents...), saved.Agents[len(f.agents):]...)
	}
	b, err := json.Marshal(ff)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.FleetFile), 0o700); err != nil {
		return fmt.Errorf("fleet file: %w", err)
	}
	tmp := cfg.FleetFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("fleet file: %w", err)
	}
	if err := os.Rename(tmp, cfg.FleetFile); err != nil {
		return fmt.Errorf("fleet file: %w", err)
	}
	return nil
}
