//go:build !linux

package cgroups

import (
	"errors"
	"io/fs"
)

// Cgroups exist only on Linux; elsewhere the package builds so that callers
// compile, and Open fails on the first file.

func sysOpen([]byte) (int, error)              { return -1, errors.ErrUnsupported }
func sysClose(int) error                       { return nil }
func sysPread(int, []byte, int64) (int, error) { return 0, errors.ErrUnsupported }
func isGone(err error) bool                    { return errors.Is(err, fs.ErrNotExist) }
func isInterrupted(error) bool                 { return false }
