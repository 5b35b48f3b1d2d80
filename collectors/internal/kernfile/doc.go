// Package kernfile is how the collectors read kernel files: the small,
// regenerated-on-read files of cgroupfs and procfs that an agent reads for
// every container on every tick.
//
// It owns three things the collectors used to write each for itself:
//
//   - File: a file read from offset 0 with pread, through a descriptor kept
//     open between reads or opened afresh for each one. The kernel renders
//     such a file anew on every read from offset 0, so a kept descriptor
//     needs no seek and always sees current values; reading one allocates
//     nothing, and a buffer grows only up to a bound the caller sets.
//   - Vanished: the one definition of "the file is gone", which for a
//     container or a process means that it exited. Errors of File match
//     fs.ErrNotExist whenever Vanished says so.
//   - Byte parsers for the kernel's text formats (numbers, lines, fields,
//     "key value" lines), which allocate nothing on well-formed input.
//
// The package lives under collectors/internal because reading the host is
// the collectors' job alone: the compiler keeps everything else out, and it
// imports nothing of ours. What a file means (a cgroup's memory, a
// namespace's counters) stays with the collector that reads it.
package kernfile
