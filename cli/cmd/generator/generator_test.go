package generator

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

func sp(s string) *string { return &s }

func TestNewCmdList(t *testing.T) {
	cmdtest.RunTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []cmdtest.FlagCase[ListOptions]{
		{Name: "defaults", Want: ListOptions{Format: output.FormatTable}},
		{Name: "wide", Args: []string{"-o", "wide"}, Want: ListOptions{Format: output.FormatWide}},
		{Name: "bad format", Args: []string{"-o", "xml"}, WantErr: true},
		{Name: "extra argument", Args: []string{"ci"}, WantErr: true},
	})
}

func TestNewCmdGet(t *testing.T) {
	cmdtest.RunTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []cmdtest.FlagCase[GetOptions]{
		{Name: "name", Args: []string{"ci", "-o", "yaml"}, Want: GetOptions{Ref: "ci", Format: output.FormatYAML}},
		{Name: "missing", WantErr: true},
		{Name: "bad format", Args: []string{"ci", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdCreate(t *testing.T) {
	cmdtest.RunTable(t, NewCmdCreate, func(o *CreateOptions) { o.Factory = nil }, []cmdtest.FlagCase[CreateOptions]{
		{Name: "name only", Args: []string{"--name", "ci"},
			Want: CreateOptions{Name: "ci", Format: output.FormatTable, Request: client.CreateGeneratorRequest{Name: "ci"}}},
		{Name: "description", Args: []string{"--name", "ci", "--description", "pipeline", "-o", "json"},
			Want: CreateOptions{Name: "ci", Description: "pipeline", Format: output.FormatJSON,
				Request: client.CreateGeneratorRequest{Name: "ci", Description: sp("pipeline")}}},
		{Name: "empty description is sent", Args: []string{"--name", "ci", "--description", ""},
			Want: CreateOptions{Name: "ci", Format: output.FormatTable, Request: client.CreateGeneratorRequest{Name: "ci", Description: sp("")}}},
		{Name: "no name", Args: []string{"--description", "x"}, WantErr: true},
		{Name: "name as argument", Args: []string{"ci", "--description", "pipeline"},
			Want: CreateOptions{Name: "ci", Description: "pipeline", Format: output.FormatTable,
				Request: client.CreateGeneratorRequest{Name: "ci", Description: sp("pipeline")}}},
		{Name: "argument and the same --name", Args: []string{"ci", "--name", "ci"},
			Want: CreateOptions{Name: "ci", Format: output.FormatTable, Request: client.CreateGeneratorRequest{Name: "ci"}}},
		{Name: "argument and another --name", Args: []string{"ci", "--name", "cd"}, WantErr: true},
		{Name: "two arguments", Args: []string{"ci", "cd"}, WantErr: true},
		{Name: "bad format", Args: []string{"--name", "ci", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdUpdate(t *testing.T) {
	cmdtest.RunTable(t, NewCmdUpdate, func(o *UpdateOptions) { o.Factory = nil }, []cmdtest.FlagCase[UpdateOptions]{
		{Name: "rename", Args: []string{"ci", "--name", "cd"}, Want: UpdateOptions{Ref: "ci", Name: sp("cd"), Format: output.FormatTable}},
		{Name: "description", Args: []string{"ci", "--description", "d", "-o", "name"},
			Want: UpdateOptions{Ref: "ci", Description: sp("d"), Format: output.FormatName}},
		{Name: "nothing to change", Args: []string{"ci"}, WantErr: true},
		{Name: "missing generator", Args: []string{"--name", "x"}, WantErr: true},
		{Name: "bad format", Args: []string{"ci", "--name", "x", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdDelete(t *testing.T) {
	cmdtest.RunTable(t, NewCmdDelete, func(o *DeleteOptions) { o.Factory = nil }, []cmdtest.FlagCase[DeleteOptions]{
		{Name: "yes", Args: []string{"ci", "-y"}, Want: DeleteOptions{Ref: "ci", Yes: true}},
		{Name: "tty asks later", TTY: true, Args: []string{"ci"}, Want: DeleteOptions{Ref: "ci"}},
		{Name: "no tty needs yes", Args: []string{"ci"}, WantErr: true},
		{Name: "missing generator", Args: []string{"--yes"}, WantErr: true},
	})
}

func TestNewCmdRotatePAK(t *testing.T) {
	cmdtest.RunTable(t, NewCmdRotatePAK, func(o *RotateOptions) { o.Factory = nil }, []cmdtest.FlagCase[RotateOptions]{
		{Name: "json", Args: []string{"ci", "-o", "json"}, Want: RotateOptions{Ref: "ci", Format: output.FormatJSON}},
		{Name: "missing generator", WantErr: true},
		{Name: "bad format", Args: []string{"ci", "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdRegister(t *testing.T) {
	for _, register := range []bool{true, false} {
		newCmd := func(f *cmdutil.Factory, runF func(*RegisterOptions) error) *cobra.Command {
			return NewCmdRegister(f, runF, register)
		}
		cmdtest.RunTable(t, newCmd, func(o *RegisterOptions) { o.Factory = nil }, []cmdtest.FlagCase[RegisterOptions]{
			{Name: "agent", Args: []string{"ci", "--agent", "edge-1/prod"},
				Want: RegisterOptions{Ref: "ci", Agent: "edge-1/prod", Register: register, Format: output.FormatTable}},
			{Name: "agent PAK registers itself", Args: []string{"ci", "-o", "json"},
				Want: RegisterOptions{Ref: "ci", Register: register, Format: output.FormatJSON}},
			{Name: "missing generator", Args: []string{"--agent", "a"}, WantErr: true},
			{Name: "bad format", Args: []string{"ci", "-o", "x"}, WantErr: true},
		})
	}
}

func TestNewCmdRegisteredAgents(t *testing.T) {
	cmdtest.RunTable(t, NewCmdRegisteredAgents, func(o *RegisteredOptions) { o.Factory = nil }, []cmdtest.FlagCase[RegisteredOptions]{
		{Name: "wide", Args: []string{"ci", "-o", "wide"}, Want: RegisteredOptions{Ref: "ci", Format: output.FormatWide}},
		{Name: "missing generator", WantErr: true},
		{Name: "bad format", Args: []string{"ci", "-o", "x"}, WantErr: true},
	})
}
