package history

import "time"

// Hour aggregates one hour. In the ring it takes 40 bytes (float32 sums,
// working set in KiB as a uint32, so at most 4 TiB).
type Hour struct {
	CPUSeconds float32
	// MaxWorkingSet is the largest working set sampled, in bytes, rounded
	// up to a whole KiB.
	MaxWorkingSet          uint64
	NetRxBytes, NetTxBytes float32
	DiskWriteBytes         float32
	// TCPAccepts counts inbound TCP connections accepted (a request
	// estimate), saturating at 2^32-1.
	TCPAccepts uint32
	// Minutes is the number of sampled minutes in the hour, ActiveMinutes
	// how many of them were active.
	Minutes       uint8
	ActiveMinutes uint8

	// Activity below the minute, at the resolution of the samples: a
	// sample is busy when its own rates (its deltas over its interval) are
	// not all below the thresholds that make a minute idle; a sample busy
	// by its CPU rate alone counts only the busy time measured below it
	// when there is one (Sample.Busy).
	//
	// SampledSeconds is the time covered by the samples of the sampled
	// minutes, whole seconds: less than a minute each for the minutes
	// that sampling began or ended in. BusySeconds is the part of it
	// covered by busy samples, and BusyCPUSeconds the CPU time they hold.
	SampledSeconds uint16
	BusySeconds    uint16
	BusyCPUSeconds float32
	// BusyRuns counts the runs of consecutive busy samples that began in
	// the hour, saturating at 4095.
	BusyRuns uint16
	// LongestBusyRun is the longest run of consecutive busy samples seen
	// in the hour, including its part in earlier hours, to the second and
	// at most 65535 s.
	LongestBusyRun time.Duration
	// PeakCores is the highest CPU rate of a single sample, within 0.022%
	// (see EncodeCPUFine): over its busy time where that was measured
	// (Sample.Busy), else over its interval.
	PeakCores float32

	// ListenMinutes counts the sampled minutes with a listening TCP
	// socket, DownMinutes those mostly down (see Sample.Down), Restarts
	// the restarts noted in the hour (see Series.NoteRestart), saturating
	// at 15: the kubelet's back-off reaches 5 minutes within a few
	// restarts, so a crash loop restarts about 12 times an hour.
	ListenMinutes, DownMinutes, Restarts uint8
}

// hourRec is the ring form of an Hour: 40 bytes.
type hourRec struct {
	n            uint64 // the small counts, packed by hourCounts.pack
	cpu          float32
	maxWSKiB     uint32
	rx, tx, disk float32
	accepts      uint32
	busyCPU      float32
	peak         uint16 // CPU code << 8 | fine code, see EncodeCPUFine
	longest      uint16 // seconds
}

// hourCounts are the small counts of an hour, which an hourRec packs into
// 64 bits so that it stays at 40 bytes: busy and sampled seconds (at most
// 3600) and busy runs in 12 bits each, the runs saturating at 4095 (a
// run takes two samples, so only intervals under 1.8 s reach that);
// sampled, active, listening and down minutes in 6 bits each; restarts in
// 4.
type hourCounts struct {
	busy, sampled, runs         uint16
	minutes, actv, listen, down uint8
	restarts                    uint8
}

// maxRestarts is the most restarts an hour record holds.
const maxRestarts = 15

// Bit offsets of the packed counts.
const (
	shiftSampled  = 12
	shiftRuns     = 24
	shiftMinutes  = 36
	shiftActv     = 42
	shiftListen   = 48
	shiftDown     = 54
	shiftRestarts = 60
)

func (c hourCounts) pack() uint64 {
	const w12, w6 = 1<<12 - 1, 1<<6 - 1
	return min(uint64(c.busy), w12) | min(uint64(c.sampled), w12)<<shiftSampled |
		min(uint64(c.runs), w12)<<shiftRuns | min(uint64(c.minutes), w6)<<shiftMinutes |
		min(uint64(c.actv), w6)<<shiftActv | min(uint64(c.listen), w6)<<shiftListen |
		min(uint64(c.down), w6)<<shiftDown | min(uint64(c.restarts), maxRestarts)<<shiftRestarts
}

func (r *hourRec) counts() hourCounts {
	n := r.n
	return hourCounts{
		busy:     uint16(n & (1<<12 - 1)),
		sampled:  uint16(n >> shiftSampled & (1<<12 - 1)),
		runs:     uint16(n >> shiftRuns & (1<<12 - 1)),
		minutes:  uint8(n >> shiftMinutes & 63),
		actv:     uint8(n >> shiftActv & 63),
		listen:   uint8(n >> shiftListen & 63),
		down:     uint8(n >> shiftDown & 63),
		restarts: uint8(n >> shiftRestarts),
	}
}

// peakCode encodes a CPU rate as hourRec.peak.
func peakCode(cores float64) uint16 {
	code, fine := EncodeCPUFine(cores)
	return uint16(code)<<8 | uint16(fine)
}

func (r *hourRec) peakCores() float64 { return CoresFine(uint8(r.peak>>8), uint8(r.peak)) }

func (r *hourRec) hour() Hour {
	c := r.counts()
	return Hour{
		CPUSeconds:     r.cpu,
		MaxWorkingSet:  uint64(r.maxWSKiB) << 10,
		NetRxBytes:     r.rx,
		NetTxBytes:     r.tx,
		DiskWriteBytes: r.disk,
		TCPAccepts:     r.accepts,
		Minutes:        c.minutes,
		ActiveMinutes:  c.actv,
		SampledSeconds: c.sampled,
		BusySeconds:    c.busy,
		BusyCPUSeconds: r.busyCPU,
		BusyRuns:       c.runs,
		LongestBusyRun: time.Duration(r.longest) * time.Second,
		PeakCores:      float32(r.peakCores()),
		ListenMinutes:  c.listen,
		DownMinutes:    c.down,
		Restarts:       c.restarts,
	}
}
