//go:build !linux

package netstat

import "errors"

func openPidfd(string) int { return -1 }
func pidfdAlive(int) error { return errors.ErrUnsupported }
func closeFd(int) error    { return nil }
