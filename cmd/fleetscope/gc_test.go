package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// The agent runs at agentGCPercent unless GOGC says otherwise.
func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	t.Setenv("GOGC", "") // restored after the test
	os.Unsetenv("GOGC")
	tuneGC()
	if got := debug.SetGCPercent(100); got != agentGCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, agentGCPercent)
	}
	t.Setenv("GOGC", "100")
	tuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=100: GC percent %d, want it left at 100", got)
	}
}
