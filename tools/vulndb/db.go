package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// entry holds what the index needs from an OSV entry. The file itself is
// copied unchanged, so fields govulncheck reads but the index does not
// (symbols, withdrawn, aliases) need no model here.
type entry struct {
	ID       string     `json:"id"`
	Affected []affected `json:"affected"`
	// RawModified is decoded by hand so that a missing or malformed time
	// is reported with its field name.
	RawModified *string   `json:"modified"`
	Modified    time.Time `json:"-"`
}

type affected struct {
	Package struct {
		Name      string `json:"name"`
		Ecosystem string `json:"ecosystem"`
	} `json:"package"`
	Ranges []struct {
		Type string `json:"type"`
		// Events are decoded as maps so that an event kind govulncheck
		// does not understand (OSV's last_affected or limit) is rejected
		// rather than silently dropped, which would turn an affected
		// range into an empty one.
		Events []map[string]string `json:"events"`
	} `json:"ranges"`
}

// osvFile is one validated entry with the bytes it was read from.
type osvFile struct {
	entry
	raw []byte
}

// dbMeta is index/db.json.
type dbMeta struct {
	Modified time.Time `json:"modified"`
}

// moduleMeta is one element of index/modules.json.
type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	// Fixed is the version from which no range of the entry affects the
	// module any more; empty when there is none (unfixed, or reintroduced
	// after its last fix). govulncheck skips the entry for versions at or
	// above it without reading the entry, so it must never be too low.
	Fixed string `json:"fixed,omitempty"`
}

type summary struct {
	entries, modules int
	modified         time.Time
}

// build validates every *.json file in osvDir and writes the database to
// out. The database's modified time is the latest of the entries' and
// modified, since the Go database's own files leave per-entry times zero.
func build(osvDir, out string, modified time.Time) (summary, error) {
	files, err := readDir(osvDir)
	if err != nil {
		return summary{}, err
	}
	entries := make([]entry, len(files))
	for i := range files {
		entries[i] = files[i].entry
	}
	db, modules := index(entries, modified)
	if err := write(out, db, modules, files); err != nil {
		return summary{}, err
	}
	return summary{entries: len(files), modules: len(modules), modified: db.Modified}, nil
}

// readDir reads and validates the entries in dir, reporting every
// malformed file rather than only the first.
func readDir(dir string) ([]osvFile, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []osvFile
	var errs []error
	for _, de := range des {
		if de.IsDir() || filepath.Ext(de.Name()) != ".json" {
			continue
		}
		path := filepath.Join(dir, de.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e, err := parseEntry(de.Name(), raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		files = append(files, osvFile{entry: e, raw: raw})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no OSV entries (*.json files)", dir)
	}
	return files, nil
}

// parseEntry decodes and validates the entry read from the file called
// name; errors name the offending field.
func parseEntry(name string, raw []byte) (entry, error) {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return entry{}, fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
		case errors.As(err, &te) && te.Field != "":
			return entry{}, fmt.Errorf("%q: %s where %s was expected", te.Field, te.Value, te.Type)
		}
		return entry{}, err
	}
	switch {
	case e.ID == "":
		return entry{}, errors.New(`"id": missing`)
	case !validID(e.ID):
		return entry{}, fmt.Errorf(`"id": %q is not usable as a file name`, e.ID)
	case name != e.ID+".json":
		// govulncheck fetches ID/<id>.json; a file named otherwise is
		// misplaced or corrupt.
		return entry{}, fmt.Errorf(`"id": %q does not match the file name`, e.ID)
	case e.RawModified == nil:
		return entry{}, errors.New(`"modified": missing`)
	}
	t, err := time.Parse(time.RFC3339, *e.RawModified)
	if err != nil {
		return entry{}, fmt.Errorf(`"modified": %q is not an RFC 3339 time`, *e.RawModified)
	}
	e.Modified = t.UTC()
	for i, a := range e.Affected {
		field := fmt.Sprintf(`"affected"[%d]`, i)
		if a.Package.Name == "" {
			return entry{}, fmt.Errorf(`%s."package"."name": missing`, field)
		}
		if a.Package.Ecosystem != "Go" {
			return entry{}, fmt.Errorf(`%s."package"."ecosystem": %q, want "Go"`, field, a.Package.Ecosystem)
		}
		for j, r := range a.Ranges {
			field := fmt.Sprintf(`%s."ranges"[%d]`, field, j)
			if r.Type != "SEMVER" {
				// govulncheck ignores other range types and would then
				// take every version as affected.
				return entry{}, fmt.Errorf(`%s."type": %q, want "SEMVER"`, field, r.Type)
			}
			for k, ev := range r.Events {
				if err := checkEvent(ev); err != nil {
					return entry{}, fmt.Errorf(`%s."events"[%d]: %w`, field, k, err)
				}
			}
		}
	}
	return e, nil
}

// checkEvent accepts exactly one introduced or fixed version.
func checkEvent(ev map[string]string) error {
	if len(ev) != 1 {
		return fmt.Errorf("%d keys, want one of \"introduced\" or \"fixed\"", len(ev))
	}
	for k, v := range ev {
		switch {
		case k != "introduced" && k != "fixed":
			return fmt.Errorf("%q: unsupported event, want \"introduced\" or \"fixed\"", k)
		case k == "introduced" && v == "0":
		default:
			if _, ok := parseVersion(v); !ok {
				return fmt.Errorf("%q: %q is not a semantic version without a \"v\" prefix", k, v)
			}
		}
	}
	return nil
}

// validID allows the characters of IDs such as GO-2024-1234, so that an id
// never escapes the ID directory.
func validID(id string) bool {
	if id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// index builds index/db.json and index/modules.json from validated
// entries. Modules are sorted by path and vulnerabilities by id, so the
// output does not depend on the order of the input.
func index(entries []entry, modified time.Time) (dbMeta, []moduleMeta) {
	db := dbMeta{Modified: modified.UTC()}
	byPath := map[string]*moduleMeta{}
	for _, e := range entries {
		if e.Modified.After(db.Modified) {
			db.Modified = e.Modified
		}
		// One entry may list a module in several affected blocks (for
		// different packages); the index holds it once, fetched while any
		// block may apply.
		fixes := map[string]string{}
		var paths []string
		for _, a := range e.Affected {
			path := a.Package.Name
			fix := latestFix(a)
			prev, seen := fixes[path]
			switch {
			case !seen:
				paths = append(paths, path)
				fixes[path] = fix
			case prev == "" || fix == "":
				fixes[path] = ""
			case less(prev, fix):
				fixes[path] = fix
			}
		}
		for _, path := range paths {
			m := byPath[path]
			if m == nil {
				m = &moduleMeta{Path: path}
				byPath[path] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: fixes[path]})
		}
	}
	modules := make([]moduleMeta, 0, len(byPath))
	for _, m := range byPath {
		slices.SortFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		modules = append(modules, *m)
	}
	slices.SortFunc(modules, func(a, b moduleMeta) int { return strings.Compare(a.Path, b.Path) })
	return db, modules
}

// latestFix returns the highest fixed version of a's ranges, or "" when a
// has none or a vulnerability is introduced again after it.
func latestFix(a affected) string {
	var fix string
	for _, r := range a.Ranges {
		for _, ev := range r.Events {
			if v := ev["fixed"]; v != "" && (fix == "" || less(fix, v)) {
				fix = v
			}
		}
	}
	if fix == "" {
		return ""
	}
	for _, r := range a.Ranges {
		for _, ev := range r.Events {
			if v := ev["introduced"]; v != "" && v != "0" && !less(v, fix) {
				return ""
			}
		}
	}
	return fix
}

// less compares two versions that parseEntry has validated.
func less(a, b string) bool {
	va, _ := parseVersion(a)
	vb, _ := parseVersion(b)
	return compare(va, vb) < 0
}

// write creates out with the database, first under a temporary name beside
// it, so that out exists only once it is complete.
func write(out string, db dbMeta, modules []moduleMeta, files []osvFile) (err error) {
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s already exists; remove it first", out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	for _, d := range []string{"index", "ID"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	dbJSON, err := json.Marshal(db)
	if err != nil {
		return err
	}
	modulesJSON, err := json.Marshal(modules)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "index", "db.json"), dbJSON, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "index", "modules.json"), modulesJSON, 0o644); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(tmp, "ID", f.ID+".json"), f.raw, 0o644); err != nil {
			return err
		}
	}
	// MkdirTemp makes the directory private; the database is not secret.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
