package pak

import (
	"testing"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/output"
)

func TestNewCmdList(t *testing.T) {
	cmdtest.RunTable(t, NewCmdList, func(o *ListOptions) { o.Factory = nil }, []cmdtest.FlagCase[ListOptions]{
		{Name: "defaults", Want: ListOptions{Format: output.FormatTable}},
		{Name: "json", Args: []string{"-o", "json"}, Want: ListOptions{Format: output.FormatJSON}},
		{Name: "bad format", Args: []string{"-o", "csv"}, WantErr: true},
		{Name: "extra argument", Args: []string{"ci"}, WantErr: true},
	})
}
