package history

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Bounds on the size of a checkpoint file. A checkpoint holds one record
// per series, and a record cannot exceed maxSeriesRecord bytes (a week of
// minutes and hours and two keys of the longest length), so a file larger
// than the records of every series the agent may keep is not one of ours:
// it is refused before a byte of it is read, rather than checksummed at
// disk speed (a 4 GiB sparse file took 9.6 s).
const (
	// maxSeriesRecord is the longest record of one series: its fixed
	// fields, two keys of maxKeyLen bytes, a minute byte and a fine CPU
	// byte per minute kept, an hour record per hour kept, and 64 bytes
	// to spare for the few fields outside those (a test checks that the
	// longest record written fits).
	maxSeriesRecord = seriesFixedLen + 2*maxKeyLen + 2*MinutesKept + HoursKept*hourRecLen + 64
	// MaxLiveSeries is how many live containers a checkpoint is sized
	// for, well over what a node runs (the kubelet allows 110 pods by
	// default) and over what the agent could hold in memory (a week of
	// history is about 27 KiB per container).
	MaxLiveSeries = 4096
	// DefaultMaxGone is history.max_gone's default, which LoadFile
	// assumes.
	DefaultMaxGone = 1000
)

// CheckpointLimit is the largest checkpoint file LoadFileLimit accepts
// when at most maxGone gone containers are kept besides the live ones
// (history.max_gone): (MaxLiveSeries + maxGone) records of at most
// maxSeriesRecord bytes, with the header and checksum; about 145 MiB for
// the default 1000.
func CheckpointLimit(maxGone int) int64 {
	n := int64(MaxLiveSeries) + int64(maxGone)
	if maxGone < 0 || n > maxSeries {
		n = maxSeries
	}
	return int64(headerLen+4+trailerLen) + n*maxSeriesRecord
}

// errDirLink is returned when the state directory is a symbolic link.
var errDirLink = errors.New("is a symbolic link, which is not followed")

// stateDir is the directory of a checkpoint, opened once without following
// a symbolic link in its last component (O_NOFOLLOW|O_DIRECTORY): every
// file of the checkpoint (the file itself, the temporary file of a save,
// a corrupt file moved aside, stale temporary files) is then opened,
// renamed or removed relative to that descriptor, so a link planted as the
// state directory, or swapped in while the agent runs, is never written
// through or read from. The directories above it are the operator's
// choice (a hostPath of the chart, say) and are resolved as usual.
type stateDir struct {
	f    *os.File
	fd   int
	path string
}

// openStateDir opens dir (creating it, 0700, when create is set and it is
// missing).
func openStateDir(dir string, create bool) (*stateDir, error) {
	if create {
		// MkdirAll stops without error at an existing link to a
		// directory; the open below refuses it.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	// Linux answers ENOTDIR for a link with O_DIRECTORY, ELOOP without:
	// the open has refused it either way, Lstat only names the reason.
	if err == unix.ENOTDIR {
		if fi, lerr := os.Lstat(dir); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			err = unix.ELOOP
		}
	}
	switch {
	case err == unix.ELOOP:
		return nil, fmt.Errorf("state directory %s %w", dir, errDirLink)
	case err == unix.ENOTDIR:
		return nil, fmt.Errorf("state directory %s: is not a directory", dir)
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &stateDir{f: os.NewFile(uintptr(fd), dir), fd: fd, path: dir}, nil
}

func (d *stateDir) Close() error { return d.f.Close() }

// open opens name in the directory, never following a link.
func (d *stateDir) open(name string, flags int, perm uint32) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

// createTemp creates a new file named prefix followed by decimal digits,
// as os.CreateTemp does, but relative to the directory.
func (d *stateDir) createTemp(prefix string) (*os.File, string, error) {
	for try := 0; ; try++ {
		name := prefix + strconv.FormatUint(uint64(rand.Uint32()), 10)
		f, err := d.open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) && try < 1000 {
			continue
		}
		return f, name, err
	}
}

func (d *stateDir) rename(from, to string) error {
	if err := unix.Renameat(d.fd, from, d.fd, to); err != nil {
		return &os.LinkError{Op: "rename", Old: d.join(from), New: d.join(to), Err: err}
	}
	return nil
}

func (d *stateDir) remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: d.join(name), Err: err}
	}
	return nil
}

// sync makes a rename durable. Filesystems that cannot sync a directory
// say so with EINVAL or ENOTSUP; the rename then stands as is.
func (d *stateDir) sync() error {
	err := d.f.Sync()
	if errors.Is(err, unix.EINVAL) || errors.Is(err, errors.ErrUnsupported) || errors.Is(err, unix.ENOTSUP) {
		err = nil
	}
	return err
}

func (d *stateDir) join(name string) string {
	if strings.HasSuffix(d.path, "/") {
		return d.path + name
	}
	return d.path + "/" + name
}

// removeStaleTemps removes the temporary files a save of base left behind
// when the agent was killed mid-checkpoint (each as large as a
// checkpoint). Only regular files named exactly as a save names them are
// removed. It is meant for start-up, before any save.
func (d *stateDir) removeStaleTemps(base string) {
	prefix := tempPrefix(base)
	entries, err := d.f.ReadDir(-1)
	if err != nil {
		return // other errors show on load
	}
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		// A file that cannot be removed now is tried again at the next
		// start; it costs disk space, nothing else.
		_ = d.remove(e.Name())
	}
}
