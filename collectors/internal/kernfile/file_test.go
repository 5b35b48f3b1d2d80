package kernfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRead reads a file whole, kept open or not, growing a small buffer,
// and sees new content on the next read: the property the collectors rely
// on for a kernel file, which a regular file shares.
func TestRead(t *testing.T) {
	content := strings.Repeat("0123456789", 1000)
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			p := writeFile(t, content)
			f := At(p)
			if keep {
				if err := f.Keep(); err != nil {
					t.Fatal(err)
				}
				defer f.Close()
			}
			if f.Name() != p || f.Kept() != keep {
				t.Fatalf("Name %q, Kept %v", f.Name(), f.Kept())
			}
			buf := make([]byte, 16)
			b, err := f.Read(&buf, 1<<20)
			if err != nil || string(b) != content {
				t.Fatalf("Read = %d bytes, %v", len(b), err)
			}
			if cap(buf) < len(content) {
				t.Errorf("buffer of %d bytes after reading %d", cap(buf), len(content))
			}
			if err := os.WriteFile(p, []byte("42\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if b, err := f.Read(&buf, 1<<20); err != nil || string(b) != "42\n" {
				t.Fatalf("Read after rewrite = %q, %v", b, err)
			}
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := f.Read(&buf, 1<<20); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Read: %v allocations, want 0", allocs)
			}
		})
	}
}

func TestReadBound(t *testing.T) {
	f := At(writeFile(t, strings.Repeat("x", 10000)))
	var buf []byte
	if _, err := f.Read(&buf, 8192); err == nil || !strings.Contains(err.Error(), "larger than 8192 bytes") {
		t.Errorf("Read of a file over the bound = %v", err)
	}
	if cap(buf) > 8192 {
		t.Errorf("buffer grew to %d bytes, past the bound", cap(buf))
	}
}

func TestVanished(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fs.ErrNotExist, true},
		{syscall.ENOENT, true},
		{syscall.ENODEV, true},
		{syscall.ESRCH, true},
		{&fs.PathError{Op: "read", Path: "x", Err: syscall.ENODEV}, true},
		{fmt.Errorf("wrapped: %w", syscall.ESRCH), true},
		{syscall.EACCES, false},
		{syscall.EIO, false},
		{io.EOF, false},
		{errors.New("no such file"), false},
	} {
		if got := Vanished(tt.err); got != tt.want {
			t.Errorf("Vanished(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestReadErrors: a file that vanished, however the kernel says so, gives
// an error matching fs.ErrNotExist and the errno; others only the errno;
// all name the file. An interrupted read is retried.
func TestReadErrors(t *testing.T) {
	missing := At(filepath.Join(t.TempDir(), "gone"))
	var buf []byte
	if _, err := missing.Read(&buf, 1<<20); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("Read of a missing file = %v", err)
	}
	if err := missing.Keep(); !errors.Is(err, fs.ErrNotExist) || missing.Kept() {
		t.Errorf("Keep of a missing file = %v", err)
	}
	for _, errno := range []syscall.Errno{syscall.ENODEV, syscall.ESRCH, syscall.EACCES, syscall.EIO} {
		p := writeFile(t, "1\n")
		f := At(p)
		f.SetPread(func(int, []byte, int64) (int, error) { return 0, errno })
		_, err := f.Read(&buf, 1<<20)
		if errors.Is(err, fs.ErrNotExist) != Vanished(errno) || !errors.Is(err, errno) || !strings.Contains(err.Error(), p) {
			t.Errorf("%v: Read = %v", errno, err)
		}
	}
	f := At(writeFile(t, "1\n"))
	calls := 0
	f.SetPread(func(fd int, p []byte, off int64) (int, error) {
		if calls++; calls == 1 {
			return 0, syscall.EINTR
		}
		return syscall.Pread(fd, p, off)
	})
	if b, err := f.Read(&buf, 1<<20); err != nil || string(b) != "1\n" {
		t.Errorf("Read after EINTR = %q, %v", b, err)
	}
}

func TestReadAtAndHead(t *testing.T) {
	content := strings.Repeat("abcdefgh", 100)
	f := At(writeFile(t, content))
	if _, err := f.ReadAt(make([]byte, 4), 0); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("ReadAt of a file not kept open = %v", err)
	}
	p := make([]byte, 16)
	if b, err := f.Head(p); err != nil || string(b) != content[:16] {
		t.Errorf("Head = %q, %v", b, err)
	}
	if err := f.Keep(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []byte
	var off int64
	for {
		n, err := f.ReadAt(p, off)
		got = append(got, p[:n]...)
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != content {
		t.Errorf("ReadAt in pieces read %d bytes", len(got))
	}
	if b, err := f.Head(make([]byte, 2000)); err != nil || string(b) != content {
		t.Errorf("Head of a short file = %d bytes, %v", len(b), err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = f.Head(p) }); allocs != 0 {
		t.Errorf("Head: %v allocations, want 0", allocs)
	}
}

func TestClose(t *testing.T) {
	var zero File
	if zero.Kept() || zero.Close() != nil || zero.Name() != "" {
		t.Error("the zero File holds something")
	}
	if _, err := zero.Read(new([]byte), 10); err == nil {
		t.Error("the zero File reads")
	}
	f := At(writeFile(t, "x"))
	if err := f.Keep(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil || f.Kept() {
		t.Fatalf("Close = %v, Kept %v", err, f.Kept())
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
