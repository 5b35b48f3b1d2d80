package model

import (
	"strings"
	"unicode/utf8"
)

// Clean returns s as valid UTF-8, each invalid byte sequence replaced by
// U+FFFD. Names reach the agent as bytes chosen by tenants (an interface
// named with a stray 0xff byte is legal to the kernel), while the
// Prometheus text format and OTLP's protobuf strings must be UTF-8: one
// bad name would otherwise fail the whole scrape or export of the node.
// Valid input, the common case, is returned as is without allocating.
func Clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
