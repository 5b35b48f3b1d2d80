// Package guest holds the checks that scripts/guest-cgroupv2.sh runs
// inside a QEMU guest booted with cgroup v2 only: a real containerd, real
// runc containers under Debian's runc and a current one, and the agent,
// compared with what the kernel's cgroup files say. The tests are built
// with the guest tag only, so that a normal test run (on this cgroup v1 or
// hybrid machine) neither builds nor skips them.
package guest
