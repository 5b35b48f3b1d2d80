// Package history keeps compact per-container rings of per-minute and
// per-hour aggregates and checkpoints them.
//
// The agent samples every container each tick and feeds the deltas to the
// container's [Series] with [Series.Add]. A Series accumulates the samples of
// the current minute; when a sample arrives in a later minute it closes the
// minute into one byte (a [Minute]: active bit and a log-scale CPU code) and
// adds it to the current hour, which closes into an [Hour] record when the
// hour is over. Both rings keep one week: [MinutesKept] minutes and
// [HoursKept] hours. Longer hourly history (say 30 days) is deliberately not
// kept: it would not fit the per-container budget below.
//
// Beside the rings, a Series keeps its [Evidence]: counters of what the
// analysis is made of that only grow while it lives in memory, and the
// [Distributions] of its closed minutes and ended bursts, which
// [Series.Drain] hands over for the agent to sum per workload. Neither
// is checkpointed.
//
// # Memory
//
// A Series costs memory in proportion to its age, up to a week: a header of
// [SeriesHeaderBytes] bytes, plus, from its first sample on, a minute ring
// and an hour ring that start at 16 minutes and 2 hours and double as the
// container ages, up to 2 × 10,080 bytes (the minute byte and its fine CPU
// code, see [EncodeCPUFine], in one allocation) and 168 × 40 = 6,720 bytes
// at one week. That is [SeriesBytes] = 27,432 bytes of data per week-old
// container on 64-bit platforms; Go's allocator serves the three
// allocations from its 576, 20,480 and 6,784 byte size classes, so the
// heap cost is 27,840 bytes, 27.2 KiB. A series that never received a
// sample keeps only its header. The fine codes cost 10 KB a container; they
// are what makes a CPU p95 near a limit, and the over-reservation waste
// computed from it, exact to 0.03% instead of 5.5%. Activity below the
// minute (busy time and its CPU, runs and CPU peak of samples, see [Hour]),
// the time sampled, restarts, down and listening minutes cost 14 bytes an
// hour (their counts share 64 bits) and 128 bytes of header; activity
// below the minute is what tells 1 s of work every 20 s from work spread
// over the minute, and the time sampled is what it is a share of. The
// additive evidence (see [Evidence]: lifetime counters, the distributions
// not yet drained and the burst in progress) costs 168 bytes of header,
// in memory only. Growing rings also make a
// checkpoint cost memory in proportion to its size, not to the number of
// series it claims.
//
// # Checkpoint
//
// [Store.WriteTo] and [ReadStore] use a small custom binary format, little
// endian throughout:
//
//	magic    "FSHISTRY" (8 bytes)
//	version  uint32 (currently 6; versions 1 to 5 are still read)
//	payload  series count (uint32), then per series with samples, sorted
//	         by key (a series without samples holds no history and is
//	         not written; a reader skips one written by older agents):
//	         namespace and ID (uint16 length + bytes each), flags (uint8,
//	         bit 0 = has samples) and, if it has samples: first and last
//	         sample time and the current minute on the series' timeline,
//	         (version 2) the timeline's offset from the wall clock, int64
//	         nanoseconds, then the in-progress minute and
//	         hour accumulators ((version 4) with their activity below the
//	         minute, and the busy run in progress), then the finished
//	         minutes and hours still in the rings from the first sample on,
//	         oldest first (one byte per minute, then (version 3) one fine
//	         CPU code per minute, then 26 bytes per hour, 40 from version
//	         4, with (version 5) listening and down minutes and restarts,
//	         42 from version 6, with the seconds sampled);
//	         minutes of versions 1 and 2 read as mid-bucket, as they
//	         decoded before; hours of versions 1 to 3 as busy for their
//	         active minutes in full, with all their CPU, in one run as long as
//	         those; hours of versions 1 to 5 as sampled for their minutes
//	         in full
//	checksum CRC-32C (Castagnoli) of everything before it, uint32
//
// A corrupt or hostile checkpoint yields an error wrapping [ErrCorrupt],
// never a panic or a huge allocation: [LoadFile] verifies the checksum
// before decoding anything, and the decoder bounds every length and count
// against the bytes left in the file before allocating, a record's rings
// (minutes, fine codes and hours) included (what it allocates stays
// proportional to the bytes it has read: a crafted 3 MB file of the
// smallest records keeps about 2.9 bytes of heap per byte) and
// range-checks every value it decodes. Error texts never quote the file's
// content. A
// container with a full week of history takes 27,463 bytes plus its key;
// 1000 of them with 64-character IDs make a checkpoint of about 27.5 MB.
//
// The in-progress minute and hour are part of the checkpoint, so a burst that
// spans a checkpoint and a restart continues in the same minute.
//
// # Clock steps
//
// A Series numbers minutes on its own timeline, the wall clock plus an
// offset that absorbs steps of the wall clock: what elapsed between two
// samples is taken from a monotonic clock ([Sample.Mono], else the reading
// time.Now puts in a time.Time), so a sample stamped 30 days ahead or an
// NTP step back moves the timeline only as far as time really passed. A
// step of any size either way loses at most the minutes in between and
// never recorded history. The offset is checkpointed; after a restart
// (no monotonic reading to compare with) a wall clock behind the last
// sample continues from it, and one ahead counts as downtime, since the
// two cannot be told apart then. Hours of the day are those of the
// timeline, off by the offset after a step.
package history
