package telemetry

import (
	"testing"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
)

// TestMain starts the living test cluster the package's integration tests share.
func TestMain(m *testing.M) { kubetest.Main(m) }
