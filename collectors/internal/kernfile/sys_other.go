//go:build !linux

package kernfile

import (
	"errors"
	"syscall"
)

// cgroupfs and procfs exist only on Linux; elsewhere the package builds so
// that its callers compile, and every open fails.

func sysOpen([]byte) (int, error)              { return -1, errors.ErrUnsupported }
func sysClose(int) error                       { return nil }
func sysPread(int, []byte, int64) (int, error) { return 0, errors.ErrUnsupported }
func interrupted(error) bool                   { return false }
func vanishedErrno(e syscall.Errno) bool       { return e == syscall.ENOENT }
