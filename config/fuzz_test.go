package config

import (
	"bytes"
	"os"
	"testing"
)

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("example.yaml"); err == nil {
		f.Add(data)
	}
	if data, err := Default().YAML(); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"sampling:\n  interval: 1h\n  jitter: .nan\n",
		"containerd: {namespaces: [a, b], relist_interval: -5m}\n",
		"a: &x {b: 1}\nsampling: *x\n",
		"log:\n  level: info\n  level: debug\n",
		"web: 8080\n",
		"---\n---\n",
		"host:\n  node_name: \"\\xff\\u0000\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		_ = c.Validate() // must not panic
		out, err := c.YAML()
		if err != nil {
			t.Fatalf("YAML() of a parsed config: %v", err)
		}
		c2, err := Parse(out, "out.yaml")
		if err != nil {
			t.Fatalf("Parse(YAML()) failed: %v\ninput: %q\nYAML:\n%s", err, data, out)
		}
		// Compare renderings rather than structs, so that NaN compares equal.
		out2, err := c2.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the configuration:\n%s\n---\n%s", out, out2)
		}
	})
}
