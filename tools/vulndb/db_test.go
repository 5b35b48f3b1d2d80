package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "db")
	sum, err := build("testdata/osv", out, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.entries != 3 || sum.modules != 3 {
		t.Errorf("summary = %d entries, %d modules; want 3, 3", sum.entries, sum.modules)
	}

	var db dbMeta
	readJSON(t, filepath.Join(out, "index", "db.json"), &db)
	if want := time.Date(2099, 3, 1, 0, 0, 0, 0, time.UTC); !db.Modified.Equal(want) {
		t.Errorf("db.json modified = %v, want the latest entry's, %v", db.Modified, want)
	}

	var modules []moduleMeta
	readJSON(t, filepath.Join(out, "index", "modules.json"), &modules)
	zero := time.Time{}
	want := []moduleMeta{
		{Path: "example.com/lib", Vulns: []moduleVuln{
			// Two blocks fixed in 1.9.0 and 1.10.0: one row, the later fix.
			{ID: "GO-2099-0001", Modified: time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC), Fixed: "1.10.0"},
			// Reintroduced after its fix: no fixed version.
			{ID: "GO-2099-0003", Modified: time.Date(2099, 3, 1, 0, 0, 0, 0, time.UTC)},
		}},
		{Path: "example.com/tool", Vulns: []moduleVuln{
			{ID: "GO-2099-0001", Modified: time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)},
		}},
		{Path: "stdlib", Vulns: []moduleVuln{
			{ID: "GO-2099-0002", Modified: zero, Fixed: "1.99.2"},
		}},
	}
	if !reflect.DeepEqual(modules, want) {
		t.Errorf("modules.json =\n%+v\nwant\n%+v", modules, want)
	}

	// Entries are served byte for byte as they were read.
	ids, err := os.ReadDir(filepath.Join(out, "ID"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 {
		t.Errorf("ID/ holds %d files, want 3", len(ids))
	}
	for _, id := range []string{"GO-2099-0001", "GO-2099-0002", "GO-2099-0003"} {
		src, err := os.ReadFile(filepath.Join("testdata", "osv", id+".json"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(out, "ID", id+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, src) {
			t.Errorf("ID/%s.json differs from its source", id)
		}
	}

	// Nothing but the database is left beside it.
	left, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 {
		t.Errorf("output parent holds %d entries, want only the database", len(left))
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("database directory: %v, %v; want mode 0755", fi.Mode(), err)
	}
}

func TestBuildModifiedFlag(t *testing.T) {
	for _, tc := range []struct {
		name       string
		flag, want time.Time
	}{
		{"later than every entry", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"earlier than an entry", time.Date(2099, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"in another zone", time.Date(2100, 1, 1, 2, 0, 0, 0, time.FixedZone("CEST", 2*3600)), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "db")
			sum, err := build("testdata/osv", out, tc.flag)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(out, "index", "db.json"))
			if err != nil {
				t.Fatal(err)
			}
			want := `{"modified":"` + tc.want.Format(time.RFC3339) + `"}`
			if string(raw) != want || !sum.modified.Equal(tc.want) {
				t.Errorf("db.json = %s (summary %v), want %s", raw, sum.modified, want)
			}
		})
	}
}

func TestBuildRefusesExistingOutput(t *testing.T) {
	out := t.TempDir()
	keep := filepath.Join(out, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := build("testdata/osv", out, time.Time{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("build into an existing directory: err = %v, want 'already exists'", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("existing output was touched: %v", err)
	}
}

func TestBuildNoEntries(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := build(dir, filepath.Join(t.TempDir(), "db"), time.Time{})
	if err == nil || !strings.Contains(err.Error(), "no OSV entries") {
		t.Fatalf("err = %v, want 'no OSV entries'", err)
	}
}

// entryJSON returns a valid entry named id with the given affected block.
func entryJSON(id, affected string) string {
	return `{"id":"` + id + `","modified":"2099-01-01T00:00:00Z","affected":[` + affected + `]}`
}

const okAffected = `{"package":{"name":"example.com/m","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}`

func TestBuildRejectsMalformed(t *testing.T) {
	const id = "GO-2099-0100"
	affected := func(ranges string) string {
		return `{"package":{"name":"example.com/m","ecosystem":"Go"},"ranges":[` + ranges + `]}`
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"truncated", `{"id":"` + id + `",`, "invalid JSON at byte"},
		{"not an object", `[1,2]`, "cannot unmarshal array"},
		{"id missing", `{"modified":"2099-01-01T00:00:00Z"}`, `"id": missing`},
		{"id of wrong type", `{"id":7}`, `"id": number where string was expected`},
		{"id not the file name", entryJSON("GO-2099-0101", okAffected), `"id": "GO-2099-0101" does not match the file name`},
		{"modified missing", `{"id":"` + id + `","affected":[]}`, `"modified": missing`},
		{"modified not a time", `{"id":"` + id + `","modified":"yesterday"}`, `"modified": "yesterday" is not an RFC 3339 time`},
		{"package name missing", entryJSON(id, `{"package":{"ecosystem":"Go"}}`), `"affected"[0]."package"."name": missing`},
		{"other ecosystem", entryJSON(id, `{"package":{"name":"left-pad","ecosystem":"npm"}}`), `"ecosystem": "npm", want "Go"`},
		{"git range", entryJSON(id, affected(`{"type":"GIT","events":[{"introduced":"0"}]}`)), `"ranges"[0]."type": "GIT", want "SEMVER"`},
		{"v prefix", entryJSON(id, affected(`{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"v1.2.3"}]}`)), `"events"[1]: "fixed": "v1.2.3" is not a semantic version`},
		{"short version", entryJSON(id, affected(`{"type":"SEMVER","events":[{"introduced":"1.2"}]}`)), `"events"[0]: "introduced": "1.2" is not a semantic version`},
		{"last_affected", entryJSON(id, affected(`{"type":"SEMVER","events":[{"introduced":"0"},{"last_affected":"1.0.0"}]}`)), `"last_affected": unsupported event`},
		{"two keys in one event", entryJSON(id, affected(`{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}`)), `"events"[0]: 2 keys`},
		{"empty event", entryJSON(id, affected(`{"type":"SEMVER","events":[{}]}`)), `"events"[0]: 0 keys`},
		{"version of wrong type", entryJSON(id, affected(`{"type":"SEMVER","events":[{"fixed":1}]}`)), `"affected.0.ranges.0.events.0.fixed": number where string was expected`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "GO-2099-0001.json"), []byte(entryJSON("GO-2099-0001", okAffected)), 0o644); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(dir, id+".json")
			if err := os.WriteFile(bad, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			outParent := t.TempDir()
			_, err := build(dir, filepath.Join(outParent, "db"), time.Time{})
			if err == nil {
				t.Fatal("build succeeded, want an error")
			}
			if msg := err.Error(); !strings.Contains(msg, bad+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("err = %q, want it to name %s and say %q", msg, bad, tc.want)
			}
			if strings.Contains(err.Error(), "GO-2099-0001.json") {
				t.Errorf("err = %q names the valid file too", err)
			}
			if left, _ := os.ReadDir(outParent); len(left) != 0 {
				t.Errorf("a failed build left %d files behind", len(left))
			}
		})
	}
}

func TestBuildReportsEveryMalformedFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"GO-2099-0001.json", "GO-2099-0002.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := build(dir, filepath.Join(t.TempDir(), "db"), time.Time{})
	if err == nil {
		t.Fatal("build succeeded, want an error")
	}
	for _, name := range []string{"GO-2099-0001.json", "GO-2099-0002.json"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("err = %q does not name %s", err, name)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"GO-2024-1234":  true,
		"GHSA-abcd_x.y": true,
		"../etc/passwd": false,
		"a/b":           false,
		".hidden":       false,
		"GO 2024":       false,
	} {
		if got := validID(id); got != want {
			t.Errorf("validID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestLatestFix(t *testing.T) {
	for _, tc := range []struct {
		name, ranges, want string
	}{
		{"no ranges", ``, ""},
		{"never fixed", `{"type":"SEMVER","events":[{"introduced":"0"}]}`, ""},
		{"one fix", `{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}`, "1.2.3"},
		{"branch fixes, any order", `{"type":"SEMVER","events":[{"fixed":"1.21.4"},{"introduced":"0"},{"introduced":"1.21.0-0"},{"fixed":"1.20.12"}]}`, "1.21.4"},
		{"fix across ranges", `{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"}]},{"type":"SEMVER","events":[{"introduced":"3.0.0"},{"fixed":"3.1.0"}]}`, "3.1.0"},
		{"reintroduced in a later range", `{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"}]},{"type":"SEMVER","events":[{"introduced":"2.5.0"}]}`, ""},
		{"reintroduced at the fix", `{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.0.0"},{"introduced":"2.0.0"}]}`, ""},
		{"pre-release fix after release", `{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"},{"introduced":"1.1.0"},{"fixed":"2.0.0-rc.2"}]}`, "2.0.0-rc.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := parseEntry("GO-1.json", []byte(entryJSON("GO-1",
				`{"package":{"name":"m","ecosystem":"Go"},"ranges":[`+tc.ranges+`]}`)))
			if err != nil {
				t.Fatal(err)
			}
			if got := latestFix(e.Affected[0]); got != tc.want {
				t.Errorf("latestFix = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzParseEntry(f *testing.F) {
	for _, name := range []string{"GO-2099-0001", "GO-2099-0002", "GO-2099-0003"} {
		b, err := os.ReadFile(filepath.Join("testdata", "osv", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(name+".json", b)
	}
	f.Add("GO-1.json", []byte(entryJSON("GO-1", okAffected)))
	f.Fuzz(func(t *testing.T, name string, raw []byte) {
		e, err := parseEntry(name, raw)
		if err != nil {
			return
		}
		if name != e.ID+".json" || !validID(e.ID) {
			t.Fatalf("accepted id %q from file %q", e.ID, name)
		}
		for _, a := range e.Affected {
			if fix := latestFix(a); fix != "" {
				if _, ok := parseVersion(fix); !ok {
					t.Fatalf("latest fix %q is not a version", fix)
				}
			}
		}
		// Accepted entries index without panicking.
		index([]entry{e}, time.Time{})
	})
}
