package config

import (
	"strings"
)

// Redacted stands for a secret in anything the agent prints or logs.
const Redacted = "REDACTED"

// Redacted returns a copy of c fit for printing: the values of the OTLP
// headers (API keys, bearer tokens) and the user information of the OTLP
// endpoint are replaced by Redacted. Everything that prints a
// configuration, or a part of one, goes through here or RedactURL, so that
// a new secret field needs redacting in one place only.
func (c Config) Redacted() Config {
	c.OTLP.Endpoint = RedactURL(c.OTLP.Endpoint)
	c.OTLP.Headers = redactHeaders(c.OTLP.Headers)
	return c
}

// RedactURL replaces the user information of a URL ("user:password@") by
// Redacted. The user name goes too, since many services take a token as
// the user name. It works on the text, not on a parsed URL, so that a URL
// that does not parse (and is about to be reported as invalid) is
// redacted just the same.
func RedactURL(s string) string {
	rest := s
	if _, after, ok := strings.Cut(s, "://"); ok {
		rest = after
	}
	// The authority ends at the path, query or fragment; its last "@"
	// ends the user information (a password may hold "@" unescaped).
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return s
	}
	start := len(s) - len(rest)
	return s[:start] + Redacted + s[start+at:]
}

// redactHeaders keeps the header names of an OTEL_EXPORTER_OTLP_HEADERS
// string and replaces every value by Redacted. A pair without "=" may be a
// value typed without its name, so it is replaced whole.
func redactHeaders(s string) string {
	if strings.TrimSpace(s) == "" {
		return s
	}
	pairs := strings.Split(s, ",")
	for i, pair := range pairs {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, _, ok := strings.Cut(pair, "=")
		if !ok {
			pairs[i] = Redacted
			continue
		}
		pairs[i] = k + "=" + Redacted
	}
	return strings.Join(pairs, ",")
}
