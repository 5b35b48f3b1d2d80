package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fleetscope/fleetscope/report"
)

// A plan written where last week's was replaces it: files it no longer
// has are removed (a directory applied whole must not bring back last
// week's schedule), the user's own are left, and a symbolic link in a
// file's place is replaced, not written through.
func TestWritePlanReplacesTheLastOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop", "Deployment-api")
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(outside, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writePlan(dir, []report.PlanFile{{Name: "kube-green-sleepinfo.yaml", Data: []byte("old")}, {Name: "keda-scaledobject.yaml", Data: []byte("old")}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "NOTES.md"), []byte("mine"), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "rightsize.patch.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := writePlan(dir, []report.PlanFile{{Name: "rightsize.patch.yaml", Data: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"NOTES.md", "rightsize.patch.yaml"}) {
		t.Errorf("files %v, want NOTES.md and rightsize.patch.yaml", names)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep me" {
		t.Errorf("written through a symbolic link: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "rightsize.patch.yaml")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Errorf("rightsize.patch.yaml: %v %v", fi, err)
	}
	// No plan now: its files go; the directory stays for the user's own.
	if err := writePlan(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "rightsize.patch.yaml")); !os.IsNotExist(err) {
		t.Errorf("a plan no longer made left its file: %v", err)
	}
	os.Remove(filepath.Join(dir, "NOTES.md"))
	writePlan(dir, []report.PlanFile{{Name: "function.yaml", Data: []byte("x")}})
	if err := writePlan(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("an emptied plan directory is left: %v", err)
	}
}
