package tui_test

import (
	"testing"
	"time"

	"github.com/brokkr/brokkr/cli/cmd/tui"
	"github.com/brokkr/brokkr/cli/cmdtest"
)

func TestFlags(t *testing.T) {
	cmdtest.RunTable(t, tui.NewCmdTUI, func(o *tui.Options) { o.Factory = nil }, []cmdtest.FlagCase[tui.Options]{
		{Name: "defaults", Args: nil, Want: tui.Options{Refresh: 5 * time.Second}},
		{Name: "refresh and debug", Args: []string{"--refresh", "2s", "--debug", "/tmp/x.log"}, Want: tui.Options{Refresh: 2 * time.Second, Debug: "/tmp/x.log"}},
		{Name: "refresh too short", Args: []string{"--refresh", "100ms"}, WantErr: true},
		{Name: "arguments", Args: []string{"extra"}, WantErr: true},
	})
}
