package checks

import "testing"

// The recording rules for workloads (packaging/prometheus/rules.yaml).
const (
	recordingFile     = "../prometheus/rules.yaml"
	recordingTestFile = "../prometheus/rules_test.yaml"
)

func TestPromtoolRecordingRules(t *testing.T) {
	t.Parallel()
	runPromtool(t, "check", "rules", recordingFile)
	runPromtool(t, "test", "rules", recordingTestFile)
}
