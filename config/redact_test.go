package config

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"http://collector:4317", "http://collector:4317"},
		{"https://user:pa55@collector:4318/otlp", "https://REDACTED@collector:4318/otlp"},
		{"https://t0ken@collector", "https://REDACTED@collector"},
		{"http://u:p@ss@h:1/x", "http://REDACTED@h:1/x"},
		{"user:pa55@collector:4317", "REDACTED@collector:4317"},
		{"http://us er:pa55@bad host", "http://REDACTED@bad host"}, // does not parse; redacted anyway
		// Passwords typed without percent-encoding: "/", "?" and "#"
		// end the authority to a parser, which then takes part of the
		// password for a host, a port, a path, a query or a fragment.
		{"https://user:pa/ss?w#rd@host:4317", "https://REDACTED@host:4317"},
		{"https://user:pa/ss@host:4317/v1/metrics", "https://REDACTED@host:4317/v1/metrics"},
		{"https://user:12/34@host", "https://REDACTED@host"}, // parses, as host "user", port 12
		{"https://user:pa?ss@host", "https://REDACTED@host"},
		{"https://user:pa#ss@host", "https://REDACTED@host"},
		{"https://user:p@s/s?w#r@d@host:4317/x", "https://REDACTED@host:4317/x"},
		{"https://user:pa://ss@host", "https://REDACTED@host"},
		{"user:pa://ss@host:4317", "REDACTED@host:4317"}, // "user:pa" is no scheme
		{"https://t0k/en@host", "https://REDACTED@host"},
		// The price: an "@" in a path or a query hides what precedes it.
		{"http://h/path@not-userinfo", "http://REDACTED@not-userinfo"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every password, whatever characters it holds unencoded, stays out of the
// validation errors of an endpoint that carries it.
func TestEndpointPasswordsNeverShown(t *testing.T) {
	for _, pass := range []string{"pa/ss?w#rd", "pa/ss", "pa?ss", "pa#ss", "p@ss/w?rd", "12/34", "pa ss/w", "pa:ss/w", "pa%zz/w", "pa://ss"} {
		for _, endpoint := range []string{
			"https://user:" + pass + "@host:4317",
			"https://user:" + pass + "@host:4317/v1/metrics",
			"ftp://user:" + pass + "@host:4317",
			"https://user:" + pass + "@",
			"user:" + pass + "@host:4317",
		} {
			c := Default()
			c.OTLP.Endpoint = endpoint
			shown := RedactURL(endpoint)
			text := shown
			if err := c.Validate(); err != nil {
				text += "\n" + err.Error()
			}
			// The password, and any piece of it cut at its special
			// characters that is long enough to say something.
			for _, piece := range append([]string{pass, "user"}, strings.FieldsFunc(pass, func(r rune) bool { return strings.ContainsRune("/?#@: %", r) })...) {
				if len(piece) >= 2 && strings.Contains(text, piece) && !strings.Contains(endpoint[strings.LastIndexByte(endpoint, '@'):], piece) {
					t.Errorf("endpoint %q: %q shows %q", endpoint, text, piece)
				}
			}
		}
	}
}

// secretConfig carries a credential in every place one can hide.
func secretConfig() Config {
	c := Default()
	c.OTLP.Endpoint = "https://fleet:pa55w0rd@collector.example.com:4318"
	c.OTLP.Protocol = OTLPProtocolHTTP
	c.OTLP.Headers = "Authorization=Bearer%20s3cr3t-t0ken,x-tenant=blue"
	return c
}

var secrets = []string{"pa55w0rd", "fleet:", "s3cr3t", "t0ken", "blue"}

func checkNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s shows %q:\n%s", what, s, text)
		}
	}
}

func TestRedactedForPrinting(t *testing.T) {
	c := secretConfig()
	out, err := c.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecret(t, "printed configuration", string(out))
	for _, want := range []string{"https://REDACTED@collector.example.com:4318", "Authorization=REDACTED,x-tenant=REDACTED"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("printed configuration lacks %q:\n%s", want, out)
		}
	}
	// The original is untouched and the printed form still loads.
	if c.OTLP.Endpoint != secretConfig().OTLP.Endpoint || c.OTLP.Headers != secretConfig().OTLP.Headers {
		t.Error("Redacted changed its receiver")
	}
	if _, err := Parse(out, "printed"); err != nil {
		t.Errorf("printed configuration does not parse: %v", err)
	}
}

func TestValidationErrorsDoNotEchoSecrets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*OTLPConfig)
		field  string
	}{
		{"header without name", func(o *OTLPConfig) { o.Headers = "x-tenant=blue,Bearer s3cr3t-t0ken" }, "otlp.headers"},
		{"header with bad escape", func(o *OTLPConfig) { o.Headers = "Authorization=s3cr3t%zzt0ken" }, "otlp.headers"},
		{"bad escape at the secret", func(o *OTLPConfig) { o.Headers = "Authorization=%s3cr3t" }, "otlp.headers"},
		{"endpoint scheme", func(o *OTLPConfig) { o.Endpoint = "ftp://fleet:pa55w0rd@collector:4317" }, "otlp.endpoint"},
		{"endpoint unparsable", func(o *OTLPConfig) { o.Endpoint = "http://fleet:pa55w0rd@collector:port" }, "otlp.endpoint"},
		{"endpoint without host", func(o *OTLPConfig) { o.Endpoint = "http://fleet:pa55w0rd@" }, "otlp.endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c.OTLP)
			err := c.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Validate() = %v, want an error on %s", err, tc.field)
			}
			t.Log(err)
			checkNoSecret(t, "validation error", err.Error())
		})
	}
	// The parser's own errors, which the exporter returns as well.
	if _, err := ParseOTLPHeaders("a=1,Bearer s3cr3t"); err == nil || !strings.Contains(err.Error(), "item 2") {
		t.Errorf("ParseOTLPHeaders: %v, want an error naming item 2", err)
	} else {
		checkNoSecret(t, "ParseOTLPHeaders error", err.Error())
	}
}
