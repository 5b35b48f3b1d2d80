package schema

import (
	"slices"
	"testing"
)

// Values are listed only for attributes a metric has, so the reference
// never documents an attribute that is not exported.
func TestValuesNameOwnAttributes(t *testing.T) {
	for _, m := range All {
		for _, a := range m.Attributes {
			if v := m.Values(a); v != nil && slices.Contains(v, "") && a != "platform" {
				t.Errorf("%s: %s lists an empty value", m.Name, a)
			}
		}
	}
	for _, c := range []struct {
		m    *Metric
		attr string
	}{{&CPUTime, "cpu.mode"}, {&IdleRatio, "window"}, {&ServerlessVerdict, "verdict"}, {&ServerlessReason, "code"}} {
		if !slices.Contains(c.m.Attributes, c.attr) || c.m.Values(c.attr) == nil {
			t.Errorf("%s: no values for %s", c.m.Name, c.attr)
		}
	}
}
