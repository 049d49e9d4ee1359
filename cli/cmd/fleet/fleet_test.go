package fleet

import (
	"testing"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/output"
)

func TestNewCmdList(t *testing.T) {
	cmdtest.RunTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []cmdtest.FlagCase[ListOptions]{
		{Name: "defaults", Want: ListOptions{Format: output.FormatTable}},
		{Name: "generator", Args: []string{"--generator", "ci", "-o", "json"}, Want: ListOptions{Generator: "ci", Format: output.FormatJSON}},
		{Name: "bad format", Args: []string{"-o", "csv"}, WantErr: true},
		{Name: "extra argument", Args: []string{"x"}, WantErr: true},
	})
}

func TestNewCmdWatch(t *testing.T) {
	cmdtest.RunTable(t, NewCmdWatch, func(o *WatchOptions) { o.Factory = nil }, []cmdtest.FlagCase[WatchOptions]{
		{Name: "defaults", Want: WatchOptions{Format: output.FormatTable}},
		{Name: "wide", Args: []string{"-o", "wide"}, Want: WatchOptions{Format: output.FormatWide}},
		{Name: "bad format", Args: []string{"-o", "csv"}, WantErr: true},
		{Name: "extra argument", Args: []string{"x"}, WantErr: true},
	})
}
