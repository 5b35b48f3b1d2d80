package history

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// SaveFile writes the checkpoint to path atomically: to a temporary file in
// the same directory, synced, renamed over path, and the directory synced.
// It creates the directory (0700) if missing. On error the previous file is
// intact and the temporary file removed. The directory is opened without
// following a symbolic link (see stateDir): a link as the state directory
// fails the save, so nothing is ever written through it.
func (st *Store) SaveFile(path string) error {
	return saveFile(path, func(w io.Writer) error {
		_, err := st.WriteTo(w)
		return err
	})
}

func saveFile(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	d, err := openStateDir(dir, true)
	if err != nil {
		return fmt.Errorf("save history checkpoint %s: %w", path, err)
	}
	defer d.Close()
	f, tmp, err := d.createTemp(tempPrefix(base))
	if err != nil {
		return fmt.Errorf("save history checkpoint %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			d.remove(tmp)
			err = fmt.Errorf("save history checkpoint %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := d.rename(tmp, base); err != nil {
		return err
	}
	return d.sync()
}

// tempPrefix begins the name of saveFile's temporary files for the
// checkpoint named base; createTemp ends it with decimal digits.
func tempPrefix(base string) string { return "." + filepath.Base(base) + ".tmp-" }

// LoadFile is LoadFileLimit with the limit for history.max_gone's default.
func LoadFile(path string) (*Store, error) {
	return LoadFileLimit(path, CheckpointLimit(DefaultMaxGone))
}

// LoadFileLimit reads the checkpoint at path, at start-up: it first removes
// the temporary files of a save that was interrupted. A missing file (or
// directory) gives an empty store and no error. path must be a regular
// file: a symbolic link (not followed) or anything else is reported and
// left in place, and the next save replaces it. Its directory must not be
// a symbolic link either (see stateDir): then nothing is read, and saves
// fail too. A corrupt, foreign or other-version file, or one larger than
// limit bytes (see CheckpointLimit; such a file is refused unread), is
// renamed to path+".corrupt-<unix time>" and LoadFileLimit returns an empty
// store with an error that wraps ErrCorrupt or ErrVersion and names both
// paths. Any other error (say, permission denied) also comes with an empty
// store, and the file is left in place.
func LoadFileLimit(path string, limit int64) (*Store, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	d, err := openStateDir(dir, false)
	if errors.Is(err, os.ErrNotExist) {
		return NewStore(), nil
	}
	if err != nil {
		return NewStore(), fmt.Errorf("read history checkpoint %s: %w", path, err)
	}
	defer d.Close()
	d.removeStaleTemps(base)
	st, err := loadFile(d, base, limit)
	switch {
	case err == nil:
		return st, nil
	case errors.Is(err, os.ErrNotExist):
		return NewStore(), nil
	case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrVersion):
		aside := fmt.Sprintf("%s.corrupt-%d", base, time.Now().Unix())
		if rerr := d.rename(base, aside); rerr != nil {
			return NewStore(), fmt.Errorf("history checkpoint %s is unusable (%w) and could not be moved aside to %s: %v", path, err, d.join(aside), rerr)
		}
		return NewStore(), fmt.Errorf("history checkpoint %s is unusable, moved aside to %s: %w", path, d.join(aside), err)
	default:
		return NewStore(), fmt.Errorf("read history checkpoint %s: %w", path, err)
	}
}

// loadFile checks the size, the header and the checksum in a first pass,
// so that a damaged file is rejected before anything is allocated for it,
// then decodes it.
func loadFile(d *stateDir, base string, limit int64) (*Store, error) {
	// O_NOFOLLOW (which open adds): a link planted in the state
	// directory must not make the agent (root) read, and report on, a
	// file it points to. O_NONBLOCK: opening a FIFO for reading must not
	// hang the start.
	f, err := d.open(base, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errors.New("is a symbolic link, which is not followed")
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("is not a regular file (%s)", fileType(fi.Mode()))
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d bytes that a checkpoint of the series this agent keeps can take", ErrCorrupt, fi.Size(), limit)
	}
	if err := verify(f, fi.Size()); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return readStore(f, fi.Size())
}

// fileType names the type of a file that is not a regular one.
func fileType(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}

func verify(f *os.File, size int64) error {
	var hdr [headerLen]byte
	if err := readFull(f, hdr[:]); err != nil {
		return err
	}
	if _, err := checkHeader(hdr[:]); err != nil {
		return err
	}
	if size < int64(headerLen+trailerLen) {
		return fmt.Errorf("%w: truncated to %d bytes", ErrCorrupt, size)
	}
	sum := crc32.Update(0, castagnoli, hdr[:])
	buf := make([]byte, 64<<10)
	for left := size - int64(headerLen+trailerLen); left > 0; {
		p := buf[:min(left, int64(len(buf)))]
		if err := readFull(f, p); err != nil {
			return err
		}
		sum = crc32.Update(sum, castagnoli, p)
		left -= int64(len(p))
	}
	if err := readFull(f, buf[:trailerLen]); err != nil {
		return err
	}
	if le.Uint32(buf) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return nil
}

// readFull reads len(p) bytes; running out of file means truncation (the
// size was taken before reading), anything else is an I/O error.
func readFull(r io.Reader, p []byte) error {
	_, err := io.ReadFull(r, p)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	return err
}
