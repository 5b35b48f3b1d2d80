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
//
// The user information is taken to run from the scheme's "://" (or the
// start, without a scheme) to the last "@", wherever that is: a password
// typed without percent-encoding may hold "/", "?", "#" and "@", and then
// no parser can say where the host begins ("https://u:pa/ss?w#rd@host" is
// host "u", port "pa" to url.Parse, or a path and a fragment to another).
// Cutting at the last "@" never shows a password; its price is that a URL
// with an "@" in its path or query shows less than it could.
func RedactURL(s string) string {
	rest := s
	if i := strings.Index(s, "://"); i >= 0 && isScheme(s[:i]) {
		rest = s[i+len("://"):]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return s
	}
	start := len(s) - len(rest)
	return s[:start] + Redacted + s[start+at:]
}

// isScheme says whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, "+", "-" or "."), so that a "://" inside a password is
// not taken for the end of one.
func isScheme(s string) bool {
	for i, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
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
