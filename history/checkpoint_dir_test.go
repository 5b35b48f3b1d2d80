package history

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The size limit holds the longest record a series can have: a full week
// under two keys of the longest length.
func TestCheckpointLimitHoldsTheLongestRecord(t *testing.T) {
	st := NewStore()
	k := Key{strings.Repeat("n", maxKeyLen), strings.Repeat("i", maxKeyLen)}
	*st.GetOrCreate(k) = *weekSeries()
	if rec := len(encode(t, st)) - (headerLen + 4 + trailerLen); rec > maxSeriesRecord {
		t.Fatalf("a series record of %d bytes is over maxSeriesRecord (%d)", rec, maxSeriesRecord)
	}
	if got := CheckpointLimit(DefaultMaxGone); got < (MaxLiveSeries+DefaultMaxGone)*maxSeriesRecord || got > 256<<20 {
		t.Errorf("CheckpointLimit(%d) = %d", DefaultMaxGone, got)
	}
	if CheckpointLimit(-1) != CheckpointLimit(maxSeries) {
		t.Error("no limit on gone containers should mean the format's own bound")
	}
}

// A 4 GiB sparse file where the checkpoint should be is refused by its
// size, unread: at once instead of after checksumming 4 GiB (9.6 s). It
// is moved aside like a corrupt one, and the error names it.
func TestLoadFileRefusesOversizedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// A valid header, then a hole.
	if _, err := f.Write(append([]byte(magic), formatVersion, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4 << 30); err != nil {
		t.Skipf("no sparse files here: %v", err)
	}
	f.Close()

	start := time.Now()
	st, err := LoadFile(path)
	took := time.Since(start)
	if err == nil || !errors.Is(err, ErrCorrupt) || st == nil || st.Len() != 0 {
		t.Fatalf("LoadFile(4 GiB) = %v, %v; want an empty store and a corrupt-file error", st, err)
	}
	if took > time.Second {
		t.Errorf("refusing a 4 GiB file took %v", took)
	}
	msg := err.Error()
	t.Log(msg)
	if !strings.Contains(msg, path) || !strings.Contains(msg, "moved aside") || !strings.Contains(msg, "4294967296 bytes") {
		t.Errorf("error %q does not name the file, its size and what was done", msg)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the oversized file is still in place: %v", err)
	}
	// The next save writes a good one where it was.
	if err := sampleStore().SaveFile(path); err != nil {
		t.Fatal(err)
	}
	if st, err := LoadFile(path); err != nil || st.Len() == 0 {
		t.Fatalf("after the save: %v, %v", st, err)
	}
	// A lower limit (fewer gone containers kept) refuses a smaller file.
	fi, _ := os.Stat(path)
	if _, err := LoadFileLimit(path, fi.Size()-1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a file one byte over the limit: %v", err)
	}
}

// A symbolic link as the state directory is neither read through nor
// written through: loading reports it, every save fails, and the link's
// target directory (which may be anywhere) is left as it was.
func TestStateDirectoryLinkIsNotFollowed(t *testing.T) {
	root := t.TempDir()
	target := filepath.Join(root, "elsewhere")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	// A good checkpoint in the target, which must not be read either.
	if err := sampleStore().SaveFile(filepath.Join(target, "history.bin")); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(target, tempPrefix("history.bin")+"123")
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, target)
	dir := filepath.Join(root, "state")
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "history.bin")

	st, err := LoadFile(path)
	if err == nil || st == nil || st.Len() != 0 {
		t.Fatalf("LoadFile through a linked directory = %v, %v; want an empty store and an error", st, err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("error %q does not name the directory and the problem", err)
	}
	err = sampleStore().SaveFile(path)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("SaveFile through a linked directory: %v", err)
	}
	if after := listDir(t, target); after != before {
		t.Errorf("the link's target changed: %q, was %q", after, before)
	}
	if fi, err := os.Lstat(dir); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced")
	}

	// A file, not a directory, where the directory should be.
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sampleStore().SaveFile(filepath.Join(file, "history.bin")); err == nil {
		t.Error("saved under a regular file")
	}
}

// listDir describes a directory's entries, names and sizes.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(e.Name())
		b.WriteByte(' ')
		b.WriteString(fi.ModTime().String())
		b.WriteByte(';')
	}
	return b.String()
}
