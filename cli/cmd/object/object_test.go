package object

import (
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/cmdtest"
	"github.com/brokkr/brokkr/cli/output"
)

var objID = uuid.MustParse("9d2c4b1e-0b6d-4f3c-8a55-1d2f3a4b5c6d")

func TestNewCmdGet(t *testing.T) {
	cmdtest.RunTable(t, NewCmdGet, func(o *GetOptions) { o.Factory = nil }, []cmdtest.FlagCase[GetOptions]{
		{Name: "yaml", Args: []string{objID.String(), "-o", "yaml"}, Want: GetOptions{ID: objID, Format: output.FormatYAML}},
		{Name: "defaults", Args: []string{objID.String()}, Want: GetOptions{ID: objID, Format: output.FormatTable}},
		{Name: "not a uuid", Args: []string{"web"}, WantErr: true},
		{Name: "missing", WantErr: true},
		{Name: "two ids", Args: []string{objID.String(), objID.String()}, WantErr: true},
		{Name: "bad format", Args: []string{objID.String(), "-o", "x"}, WantErr: true},
	})
}

func TestNewCmdYAML(t *testing.T) {
	cmdtest.RunTable(t, NewCmdYAML, func(o *YAMLOptions) { o.Factory = nil }, []cmdtest.FlagCase[YAMLOptions]{
		{Name: "id", Args: []string{objID.String()}, Want: YAMLOptions{ID: objID}},
		{Name: "not a uuid", Args: []string{"x"}, WantErr: true},
		{Name: "missing", WantErr: true},
		{Name: "no format flag", Args: []string{objID.String(), "-o", "json"}, WantErr: true},
	})
}

func TestNewCmdHealth(t *testing.T) {
	cmdtest.RunTable(t, NewCmdHealth, func(o *HealthOptions) { o.Factory = nil }, []cmdtest.FlagCase[HealthOptions]{
		{Name: "json", Args: []string{objID.String(), "-o", "json"}, Want: HealthOptions{ID: objID, Format: output.FormatJSON}},
		{Name: "defaults", Args: []string{objID.String()}, Want: HealthOptions{ID: objID, Format: output.FormatTable}},
		{Name: "not a uuid", Args: []string{"web"}, WantErr: true},
		{Name: "missing", WantErr: true},
		{Name: "bad format", Args: []string{objID.String(), "-o", "x"}, WantErr: true},
	})
}
