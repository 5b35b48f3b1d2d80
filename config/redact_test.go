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
		{"http://u:p@ss@h:1/x?y=a@b#c@d", "http://REDACTED@h:1/x?y=a@b#c@d"},
		{"http://h/path@not-userinfo", "http://h/path@not-userinfo"},
		{"user:pa55@collector:4317", "REDACTED@collector:4317"},
		{"http://us er:pa55@bad host", "http://REDACTED@bad host"}, // does not parse; redacted anyway
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
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
