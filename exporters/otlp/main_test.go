package otlp

import (
	"testing"

	"go.uber.org/goleak"
)

// The periodic reader's goroutine lives from Run's start to its return;
// none may outlive a test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
