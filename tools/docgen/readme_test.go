package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/exporters/schema"
)

// readme returns the front page's section under heading, up to the next
// heading of the same level.
func readme(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no heading %q", heading)
	}
	s = s[i+len(heading)+2:]
	level := heading[:strings.Index(heading, " ")+1]
	if j := strings.Index(s, "\n"+level); j >= 0 {
		s = s[:j]
	}
	return s
}

// The front page's small configuration is valid as written.
func TestREADMEConfigValid(t *testing.T) {
	s := readme(t, "### Configuration")
	start := strings.Index(s, "```yaml\n")
	if start < 0 {
		t.Fatal("README.md: no yaml block under ### Configuration")
	}
	s = s[start+len("```yaml\n"):]
	s = s[:strings.Index(s, "```")]
	c, err := config.Parse([]byte(s), "README.md")
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		t.Errorf("README.md's configuration: %v\n%s", err, s)
	}
}

// The headline metrics on the front page are metrics the agent exports.
func TestREADMEMetricsExist(t *testing.T) {
	names := map[string]bool{}
	for _, m := range schema.All {
		names[m.PromName()] = true
	}
	rows := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\|").FindAllStringSubmatch(readme(t, "## Metrics"), -1)
	if len(rows) < 10 {
		t.Errorf("README.md's metric table has %d rows, want the ten headline metrics", len(rows))
	}
	for _, r := range rows {
		if !names[r[1]] {
			t.Errorf("README.md lists %s, which the agent does not export", r[1])
		}
	}
}
