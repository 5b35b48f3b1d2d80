package history

import "math"

// maxCPUDelta bounds a sample's CPU seconds: about 30,000 years of a core.
const maxCPUDelta = 1e12

// minuteAcc accumulates the samples of the minute in progress.
type minuteAcc struct {
	observed     int64 // nanoseconds covered by the samples' intervals
	cpu          float64
	rx, tx, disk uint64
	accepts      uint64
	maxWS        uint64
	samples      uint32
	// Below the minute: nanoseconds covered by busy samples and their CPU
	// seconds, the longest busy run so far (nanoseconds), busy runs begun,
	// the highest CPU rate of a sample.
	busy, longest int64
	runs          uint32
	peak, busyCPU float64
	down          int64 // nanoseconds of down samples
	listen        bool  // a sample saw a listening socket
}

func (a *minuteAcc) add(sm *Sample, interval int64) {
	a.samples++
	a.observed += interval
	a.cpu += cpuDelta(sm)
	if sm.Down {
		a.down += interval
	}
	a.listen = a.listen || sm.Listening
	a.rx += sm.NetRxBytes
	a.tx += sm.NetTxBytes
	a.disk += sm.DiskWriteBytes
	a.accepts += sm.TCPAccepts
	a.maxWS = max(a.maxWS, sm.WorkingSet)
}

// cpuDelta is a sample's CPU seconds: NaN, negative (a counter reset) and
// absurd deltas count as zero, so that sums stay finite and checkpoints
// stay readable.
func cpuDelta(sm *Sample) float64 {
	if sm.CPUSeconds > 0 && sm.CPUSeconds < maxCPUDelta {
		return sm.CPUSeconds
	}
	return 0
}

// busy reports whether a sample's own rates are not all below th, as
// minute decides for a minute, and whether its CPU rate alone makes it
// so; a sample of unknown interval is not busy.
func busy(sm *Sample, interval int64, th *Thresholds) (b, byCPU bool, cores float64) {
	if interval <= 0 {
		return false, false, 0
	}
	secs := float64(interval) / 1e9
	cores = cpuDelta(sm) / secs
	net := (float64(sm.NetRxBytes) + float64(sm.NetTxBytes)) / secs
	disk := float64(sm.DiskWriteBytes) / secs
	other := !(net < th.NetBytesPerSecond && disk < th.DiskWriteBytesPerSecond)
	return other || !(cores < th.CPUCores), !other, cores
}

// minute closes the accumulator into its byte. Without a known interval the
// rates are taken as zero.
func (a *minuteAcc) minute(th *Thresholds) (Minute, uint8) {
	if a.samples == 0 {
		return 0, 0
	}
	var cores, net, disk float64
	if a.observed > 0 {
		secs := float64(a.observed) / 1e9
		cores = a.cpu / secs
		net = (float64(a.rx) + float64(a.tx)) / secs
		disk = float64(a.disk) / secs
	}
	idle := cores < th.CPUCores && net < th.NetBytesPerSecond && disk < th.DiskWriteBytesPerSecond
	_, fine := EncodeCPUFine(cores)
	return MakeMinute(cores, !idle), fine
}

// hourAcc accumulates the finished minutes of the hour in progress.
type hourAcc struct {
	cpu                    float64
	rx, tx, disk           uint64
	accepts                uint64
	maxWS                  uint64
	minutes, actv          uint8
	observed               int64 // nanoseconds covered by samples
	busy, longest          int64 // nanoseconds
	runs                   uint32
	peak, busyCPU          float64
	listen, down, restarts uint8
}

func (h *hourAcc) addMinute(a *minuteAcc, m Minute) {
	h.cpu += a.cpu
	h.rx += a.rx
	h.tx += a.tx
	h.disk += a.disk
	h.accepts += a.accepts
	h.maxWS = max(h.maxWS, a.maxWS)
	h.observed += a.observed
	h.busy += a.busy
	h.longest = max(h.longest, a.longest)
	h.runs += a.runs
	h.peak = max(h.peak, a.peak)
	h.busyCPU += a.busyCPU
	if a.listen {
		h.listen++
	}
	if a.down > 0 && 2*a.down >= a.observed {
		h.down++
	}
	h.minutes++
	if m.Active() {
		h.actv++
	}
}

func (h *hourAcc) rec() hourRec {
	return hourRec{
		n: hourCounts{
			busy:     uint16(min((h.busy+5e8)/1e9, 3600)),
			sampled:  uint16(min((h.observed+5e8)/1e9, 3600)),
			runs:     uint16(min(h.runs, math.MaxUint16)),
			minutes:  h.minutes,
			actv:     h.actv,
			listen:   h.listen,
			down:     h.down,
			restarts: h.restarts,
		}.pack(),
		cpu:      float32(h.cpu),
		maxWSKiB: uint32(min((h.maxWS+1023)>>10, math.MaxUint32)),
		rx:       float32(h.rx),
		tx:       float32(h.tx),
		disk:     float32(h.disk),
		accepts:  uint32(min(h.accepts, math.MaxUint32)),
		longest:  uint16(min((h.longest+5e8)/1e9, math.MaxUint16)),
		peak:     peakCode(h.peak),
		busyCPU:  float32(h.busyCPU),
	}
}
