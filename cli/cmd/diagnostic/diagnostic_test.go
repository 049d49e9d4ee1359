package diagnostic

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/cli/output"
)

func execute(cmd *cobra.Command, args []string) error {
	ios, _, _, _ := iostreams.Test()
	cmd.SetArgs(args)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	_, err := cmd.ExecuteC()
	return err
}

func factory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return cmdutil.NewFactory("test", ios)
}

func TestNewCmdRequest(t *testing.T) {
	obj, agent := uuid.New(), uuid.New()
	tests := []struct {
		name    string
		args    []string
		want    RequestOptions
		wantErr bool
	}{
		{name: "minimal", args: []string{"--object", obj.String(), "--agent", agent.String()},
			want: RequestOptions{ObjectID: obj, AgentID: agent, Timeout: 2 * time.Minute, Interval: time.Second, Format: output.FormatTable}},
		{name: "wait", args: []string{"--object", obj.String(), "--agent", agent.String(), "--wait", "--timeout", "30s", "--retention", "10", "--requested-by", "me", "-o", "json"},
			want: RequestOptions{ObjectID: obj, AgentID: agent, Wait: true, Timeout: 30 * time.Second, Interval: time.Second, Retention: 10, RequestedBy: "me", Format: output.FormatJSON}},
		{name: "missing object", args: []string{"--agent", agent.String()}, wantErr: true},
		{name: "bad agent", args: []string{"--object", obj.String(), "--agent", "x"}, wantErr: true},
		{name: "retention too long", args: []string{"--object", obj.String(), "--agent", agent.String(), "--retention", "2000"}, wantErr: true},
		{name: "zero timeout", args: []string{"--object", obj.String(), "--agent", agent.String(), "--wait", "--timeout", "0s"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *RequestOptions
			err := execute(NewCmdRequest(factory(), func(o *RequestOptions) error { got = o; return nil }), tt.args)
			if tt.wantErr {
				if cmdutil.ExitCodeOf(err) != cmdutil.ExitUsage {
					t.Fatalf("want usage error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Factory = nil
			if *got != tt.want {
				t.Fatalf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestNewCmdGet(t *testing.T) {
	id := uuid.New()
	var got *GetOptions
	if err := execute(NewCmdGet(factory(), func(o *GetOptions) error { got = o; return nil }), []string{id.String(), "--wait", "--timeout", "5s"}); err != nil {
		t.Fatal(err)
	}
	if got.ID != id || !got.Wait || got.Timeout != 5*time.Second {
		t.Fatalf("got %+v", got)
	}
	for _, args := range [][]string{{}, {"x"}, {id.String(), "-o", "toml"}} {
		err := execute(NewCmdGet(factory(), func(*GetOptions) error { return nil }), args)
		if cmdutil.ExitCodeOf(err) != cmdutil.ExitUsage {
			t.Fatalf("%v: want usage error, got %v", args, err)
		}
	}
}
