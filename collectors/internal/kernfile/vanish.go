package kernfile

import (
	"errors"
	"io/fs"
	"syscall"
)

// Vanished reports whether err means that the file is gone, which for a
// container or a process means that it exited: normal, not a failure. It
// is true for fs.ErrNotExist and for the errnos the kernel answers in its
// place (see vanishedErrno).
func Vanished(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	var errno syscall.Errno
	return errors.As(err, &errno) && vanishedErrno(errno)
}

// gone wraps the errno of a file that vanished so that it matches
// fs.ErrNotExist, whichever errno the kernel chose.
type gone struct{ err error }

func (g gone) Error() string        { return "vanished: " + g.err.Error() }
func (g gone) Unwrap() error        { return g.err }
func (g gone) Is(target error) bool { return target == fs.ErrNotExist }
