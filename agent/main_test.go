package agent

import (
	"testing"

	"go.uber.org/goleak"
)

// The agent starts discovery, storage and the loop in Run; every one of
// them must have ended when Run returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
