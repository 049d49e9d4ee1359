package admin

import (
	"testing"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/output"
)

func TestNewCmdReload(t *testing.T) {
	cmdtest.RunTable(t, NewCmdReload, func(o *ReloadOptions) { o.Factory = nil }, []cmdtest.FlagCase[ReloadOptions]{
		{Name: "defaults", Want: ReloadOptions{Format: output.FormatTable}},
		{Name: "json", Args: []string{"-o", "json"}, Want: ReloadOptions{Format: output.FormatJSON}},
		{Name: "bad format", Args: []string{"-o", "csv"}, WantErr: true},
		{Name: "extra argument", Args: []string{"now"}, WantErr: true},
	})
}

func TestNewCmdWSConnections(t *testing.T) {
	cmdtest.RunTable(t, NewCmdWSConnections, func(o *WSOptions) { o.Factory = nil }, []cmdtest.FlagCase[WSOptions]{
		{Name: "defaults", Want: WSOptions{Format: output.FormatTable}},
		{Name: "wide", Args: []string{"-o", "wide"}, Want: WSOptions{Format: output.FormatWide}},
		{Name: "bad format", Args: []string{"-o", "csv"}, WantErr: true},
		{Name: "extra argument", Args: []string{"x"}, WantErr: true},
	})
}

func TestNewCmdAdminTree(t *testing.T) {
	root := NewCmdAdmin(cmdtest.Factory(false, ""))
	if c, _, err := root.Find([]string{"config", "reload"}); err != nil || c.Name() != "reload" {
		t.Fatalf("admin config reload: %v %v", c, err)
	}
	cmdtest.WantFlagError(t, []string{"config", "reload", "x"}, cmdtest.Execute(root, []string{"config", "reload", "x"}))
}

func TestNewCmdRotatePAK(t *testing.T) {
	cmdtest.RunTable(t, NewCmdRotatePAK, func(o *RotatePAKOptions) { o.Factory = nil }, []cmdtest.FlagCase[RotatePAKOptions]{
		{Name: "defaults", Want: RotatePAKOptions{Format: output.FormatTable}},
		{Name: "save json", Args: []string{"--save", "-o", "json"}, Want: RotatePAKOptions{Format: output.FormatJSON, Save: true}},
		{Name: "bad format", Args: []string{"-o", "csv"}, WantErr: true},
		{Name: "extra argument", Args: []string{"x"}, WantErr: true},
	})
}
