package netstat

import (
	"errors"

	"golang.org/x/sys/unix"
)

// openPidfd opens a /proc/<pid> directory as a pidfd, or returns -1 when
// the kernel does not accept it as one (or it is not a real procfs).
func openPidfd(dir string) int {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	if pidfdAlive(fd) != nil {
		unix.Close(fd)
		return -1
	}
	return fd
}

// pidfdAlive sends signal 0 through the pidfd: nil while the process
// exists, ESRCH once it is gone. EPERM (a process of another user, without
// CAP_KILL) still proves it exists. Unlike a pid, a pidfd cannot come to
// name another process after the first one is reaped.
func pidfdAlive(fd int) error {
	err := unix.PidfdSendSignal(fd, 0, nil, 0)
	if errors.Is(err, unix.EPERM) {
		return nil
	}
	return err
}

func closeFd(fd int) error { return unix.Close(fd) }
