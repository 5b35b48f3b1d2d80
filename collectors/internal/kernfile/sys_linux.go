package kernfile

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysOpen opens a NUL-terminated path read-only. It calls openat directly
// because unix.Open copies its string argument to the heap on every call,
// and reopening files every tick must not allocate.
func sysOpen(path []byte) (int, error) {
	atFDCWD := unix.AT_FDCWD // a negative constant cannot convert to uintptr directly
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD),
		uintptr(unsafe.Pointer(&path[0])), uintptr(unix.O_RDONLY|unix.O_CLOEXEC|unix.O_LARGEFILE), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

func sysClose(fd int) error { return unix.Close(fd) }

func sysPread(fd int, p []byte, off int64) (int, error) { return unix.Pread(fd, p, off) }

func interrupted(err error) bool { return err == unix.EINTR }

// vanishedErrno: ENOENT opening a file of a removed cgroup or an exited
// process, ENODEV reading a cgroup file kept open across its removal,
// ESRCH from a reaped process's files and from some controllers' files of
// dying cgroups.
func vanishedErrno(e unix.Errno) bool {
	return e == unix.ENOENT || e == unix.ENODEV || e == unix.ESRCH
}
