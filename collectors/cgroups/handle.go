package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetscope/fleetscope/collectors/internal/kernfile"
)

// Options tune a Handle.
type Options struct {
	// KeepOpen keeps one descriptor per file open between reads and re-reads
	// it with pread at offset 0, which works because the kernel regenerates
	// a cgroup file's content on every read. It roughly halves the cost of
	// a sample at the price of a few descriptors per container. Without it
	// every file is opened, read and closed on each Read.
	KeepOpen bool
}

// kind says how to parse a file and where its values go.
type kind uint8

const (
	kCPUAcctUsage  kind = iota // v1 cpuacct.usage, ns
	kCPUAcctUser               // v1 cpuacct.usage_user, ns
	kCPUAcctSys                // v1 cpuacct.usage_sys, ns
	kCPUAcctStat               // v1 cpuacct.stat, USER_HZ ticks
	kCPUStatV1                 // v1 cpu.stat, throttling only
	kMemUsageV1                // v1 memory.usage_in_bytes
	kMemStatV1                 // v1 memory.stat
	kMemswV1                   // v1 memory.memsw.usage_in_bytes
	kBlkioBytes                // v1 blkio.*io_service_bytes*
	kBlkioOps                  // v1 blkio.*io_serviced*
	kPidsCurrent               // pids.current, v1 and v2
	kCPUStatV2                 // v2 cpu.stat
	kMemCurrentV2              // v2 memory.current
	kMemStatV2                 // v2 memory.stat
	kSwapCurrentV2             // v2 memory.swap.current
	kIOStatV2                  // v2 io.stat
	kMemEventsV2               // v2 memory.events, oom_kill only
	kOOMControlV1              // v1 memory.oom_control, oom_kill only

	// Limits.
	kQuotaV1    // v1 cpu.cfs_quota_us
	kPeriodV1   // v1 cpu.cfs_period_us
	kSharesV1   // v1 cpu.shares
	kMemLimitV1 // v1 memory.limit_in_bytes
	kPidsMax    // pids.max, v1 and v2
	kCPUMaxV2   // v2 cpu.max
	kWeightV2   // v2 cpu.weight
	kMemMaxV2   // v2 memory.max
)

// file is one cgroup file of a Handle.
type file struct {
	kernfile.File
	kind kind
}

// maxFileSize bounds buffer growth; no cgroup file we read comes close.
const maxFileSize = 1 << 20

// Handle reads one container's cgroup files. It is safe for concurrent use,
// but Read and Limits of all Handles of one Host take turns on the Host's
// buffer (see Host).
type Handle struct {
	host     *Host
	keepOpen bool
	closed   bool
	fds      int    // descriptors held
	files    []file // read by Read, in this order
	limits   []file // read by Limits, never kept open
	desc     string
	cpu      cpuSplit // scales the sampled user/system split of Read
	oom      oomCounter
}

// OOMRefresh is how often Read reads the OOM kill counter. Kills are rare
// and the counter only grows, so a reading a minute old says nearly as
// much as a fresh one, for a sixtieth of the reads at a 1 s interval.
const OOMRefresh = time.Minute

// oomCounter is a Handle's OOM kill counter and when it was last read.
type oomCounter struct {
	f     file // never kept open: it is read once every OOMRefresh
	have  bool // the cgroup has the file
	at    time.Time
	kills uint64
	ok    bool             // the last reading found the counter
	now   func() time.Time // time.Now; tests replace it
}

// Open resolves the files of the container with paths p once, so that Read
// does no path work. A controller or file that does not exist is not an
// error: its values are then reported absent in Stats.Have. If the cgroup
// exists in none of the hierarchies, the error wraps fs.ErrNotExist.
func (h *Host) Open(p Paths, opt Options) (*Handle, error) {
	hd := &Handle{host: h, keepOpen: opt.KeepOpen, desc: p.String()}
	hd.oom.now = time.Now
	var dirs [numCtrl]string
	found := false
	for c := range numCtrl {
		var base, rel string
		switch {
		case h.fromUnified[c]:
			base, rel = h.unified, p.Unified
		case h.v1[c] != "":
			base, rel = h.v1[c], p.Controllers[v1Names[c]]
		}
		if base == "" || rel == "" {
			continue
		}
		if err := checkPath(rel); err != nil {
			return nil, fmt.Errorf("cgroups: open %s: %w", v1Names[c], err)
		}
		dir := filepath.Join(base, rel)
		ok, err := isDir(dir)
		if err != nil {
			return nil, err
		}
		if ok {
			dirs[c], found = dir, true
		}
	}
	if !found {
		return nil, fmt.Errorf("cgroups: cgroup %q not found under %s: %w", hd.desc, h.root, fs.ErrNotExist)
	}
	if err := hd.resolve(dirs); err != nil {
		hd.Close()
		return nil, err
	}
	return hd, nil
}

func (hd *Handle) resolve(dirs [numCtrl]string) error {
	h := hd.host
	var err error
	// add appends dir/name to the files read per tick if it exists.
	add := func(dir, name string, k kind) bool {
		if err != nil || dir == "" {
			return false
		}
		var ok bool
		ok, err = hd.addFile(&hd.files, filepath.Join(dir, name), k, hd.keepOpen)
		return ok
	}
	addLimit := func(dir, name string, k kind) {
		if err == nil && dir != "" {
			_, err = hd.addFile(&hd.limits, filepath.Join(dir, name), k, false)
		}
	}
	// addOOM sets dir/name as the file of the OOM kill counter if it
	// exists.
	addOOM := func(dir, name string, k kind) {
		if err != nil || dir == "" {
			return
		}
		var l []file
		if ok, e := hd.addFile(&l, filepath.Join(dir, name), k, false); e != nil {
			err = e
		} else if ok {
			hd.oom.f, hd.oom.have = l[0], true
		}
	}
	exists := func(dir, name string) bool {
		return dir != "" && isFile(filepath.Join(dir, name))
	}

	// CPU.
	if h.fromUnified[ctrlCPU] {
		dir := dirs[ctrlCPU]
		add(dir, "cpu.stat", kCPUStatV2)
		addLimit(dir, "cpu.max", kCPUMaxV2)
		addLimit(dir, "cpu.weight", kWeightV2)
	} else {
		acct := dirs[ctrlCPUAcct]
		add(acct, "cpuacct.usage", kCPUAcctUsage)
		if exists(acct, "cpuacct.usage_user") && exists(acct, "cpuacct.usage_sys") {
			add(acct, "cpuacct.usage_user", kCPUAcctUser)
			add(acct, "cpuacct.usage_sys", kCPUAcctSys)
		} else {
			add(acct, "cpuacct.stat", kCPUAcctStat)
		}
		cpu := dirs[ctrlCPU]
		add(cpu, "cpu.stat", kCPUStatV1)
		addLimit(cpu, "cpu.cfs_quota_us", kQuotaV1)
		addLimit(cpu, "cpu.cfs_period_us", kPeriodV1)
		addLimit(cpu, "cpu.shares", kSharesV1)
	}

	// Memory.
	if mem := dirs[ctrlMemory]; h.fromUnified[ctrlMemory] {
		add(mem, "memory.current", kMemCurrentV2)
		add(mem, "memory.stat", kMemStatV2)
		add(mem, "memory.swap.current", kSwapCurrentV2)
		addOOM(mem, "memory.events", kMemEventsV2)
		addLimit(mem, "memory.max", kMemMaxV2)
	} else {
		add(mem, "memory.usage_in_bytes", kMemUsageV1)
		if add(mem, "memory.stat", kMemStatV1) && !hasTotalSwap(filepath.Join(mem, "memory.stat")) {
			// With swap accounting on, memory.stat carries total_swap and
			// memsw (memory+swap) adds nothing; read it only otherwise.
			add(mem, "memory.memsw.usage_in_bytes", kMemswV1)
		}
		addOOM(mem, "memory.oom_control", kOOMControlV1)
		addLimit(mem, "memory.limit_in_bytes", kMemLimitV1)
	}

	// Block I/O: both files or neither, so HaveIO covers all four values.
	if io := dirs[ctrlBlkio]; h.fromUnified[ctrlBlkio] {
		add(io, "io.stat", kIOStatV2)
	} else if io != "" {
		bytesName := firstFile(io, "blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes")
		opsName := firstFile(io, "blkio.throttle.io_serviced_recursive", "blkio.throttle.io_serviced")
		if bytesName != "" && opsName != "" {
			add(io, bytesName, kBlkioBytes)
			add(io, opsName, kBlkioOps)
		}
	}

	// Pids.
	pids := dirs[ctrlPids]
	add(pids, "pids.current", kPidsCurrent)
	addLimit(pids, "pids.max", kPidsMax)
	return err
}

// addFile checks that path can be opened and appends it to list, keeping
// the descriptor if keep is set. A missing file is skipped.
func (hd *Handle) addFile(list *[]file, path string, k kind, keep bool) (bool, error) {
	f := file{File: kernfile.At(path), kind: k}
	if err := f.Keep(); err != nil {
		if kernfile.Vanished(err) {
			return false, nil
		}
		return false, err
	}
	if keep {
		hd.fds++
	} else {
		f.Close()
	}
	*list = append(*list, f)
	return true, nil
}

func firstFile(dir string, names ...string) string {
	for _, n := range names {
		if isFile(filepath.Join(dir, n)) {
			return n
		}
	}
	return ""
}

func hasTotalSwap(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && (bytes.HasPrefix(b, []byte("total_swap ")) || bytes.Contains(b, []byte("\ntotal_swap ")))
}

// Files returns the number of file descriptors the Handle holds between
// reads: one per file read per tick with KeepOpen, otherwise zero.
func (hd *Handle) Files() int {
	hd.host.mu.Lock()
	defer hd.host.mu.Unlock()
	return hd.fds
}

// Close releases the Handle's descriptors. It is safe to call twice.
func (hd *Handle) Close() error {
	hd.host.mu.Lock()
	defer hd.host.mu.Unlock()
	var first error
	for i := range hd.files {
		if err := hd.files[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	hd.fds = 0
	hd.closed = true
	return first
}

var errClosed = fmt.Errorf("cgroups: handle: %w", fs.ErrClosed)

// load returns the content of f, read into *bp. An error that the cgroup
// is gone (the container exited) matches fs.ErrNotExist.
func load(f *file, bp *[]byte) ([]byte, error) {
	b, err := f.Read(bp, maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	return b, nil
}

// sample collects what one Read learns before it can be combined.
type sample struct {
	user, sys      bool
	memStat        bool
	inactiveFile   uint64
	memsw          uint64
	memswOK        bool
	ioBytes, ioOps bool
}

// Read fills s with a fresh sample. It resets s first, and on any error
// leaves it empty (Have == 0), so a half-read sample is never taken for a
// real one. An error wrapping fs.ErrNotExist means the cgroup is gone (the
// container exited); one wrapping ErrMalformed names the file whose content
// was not understood. User and system time are the sampled split scaled
// to the exact total (see cpuSplit), so successive Reads of one Handle
// report modes that never go backwards. The OOM kill counter is read at
// most once every OOMRefresh (see Stats.OOMKills). Read allocates nothing
// once its buffer has grown to the largest file.
func (hd *Handle) Read(s *Stats) error {
	*s = Stats{}
	hd.host.mu.Lock()
	defer hd.host.mu.Unlock()
	if hd.closed {
		return errClosed
	}
	bp := &hd.host.buf
	var sm sample
	for i := range hd.files {
		f := &hd.files[i]
		b, err := load(f, bp)
		if err == nil {
			err = sm.parse(f.kind, b, s)
			if err != nil {
				err = fmt.Errorf("cgroups: %s: %w", f.Name(), err)
			}
		}
		if err != nil {
			*s = Stats{}
			return err
		}
	}
	if sm.user && sm.sys {
		s.Have |= HaveCPUMode
		if s.Have.Has(HaveCPU) {
			hd.cpu.adjust(s.CPUUsageNanos, &s.CPUUserNanos, &s.CPUSystemNanos)
		}
	}
	if sm.memStat {
		s.Have |= HaveMemoryStat
		if s.Have.Has(HaveMemory) && s.MemoryUsage > sm.inactiveFile {
			s.MemoryWorkingSet = s.MemoryUsage - sm.inactiveFile
		}
	}
	if sm.memswOK && !s.Have.Has(HaveSwap) && s.Have.Has(HaveMemory) {
		// memsw counts memory plus swap; both files are read at slightly
		// different moments, hence the floor.
		if sm.memsw > s.MemoryUsage {
			s.MemorySwap = sm.memsw - s.MemoryUsage
		}
		s.Have |= HaveSwap
	}
	if sm.ioBytes && sm.ioOps {
		s.Have |= HaveIO
	}
	if hd.oom.have {
		if err := hd.oom.refresh(bp); err != nil {
			*s = Stats{}
			return err
		}
		if hd.oom.ok {
			s.OOMKills = hd.oom.kills
			s.Have |= HaveOOM
		}
	}
	return nil
}

// refresh reads the counter if its last reading is older than OOMRefresh.
// Only a vanished cgroup is an error. Any other failure (content that is
// not what the kernel writes, say) leaves the counter unknown until the
// next reading rather than failing the sample: a failed Read costs the
// caller the container's handle and every other figure with it, which a
// secondary counter is not worth.
func (c *oomCounter) refresh(bp *[]byte) error {
	now := c.now()
	if !c.at.IsZero() && now.Sub(c.at) < OOMRefresh {
		return nil
	}
	b, err := load(&c.f, bp)
	if errors.Is(err, fs.ErrNotExist) {
		return err
	}
	c.at, c.kills, c.ok = now, 0, false
	if err == nil {
		if n, ok, perr := parseOOMKill(b); perr == nil && ok {
			c.kills, c.ok = n, true
		}
	}
	return nil
}

// parse stores the values of one file of kind k, content b, in s and sm.
func (sm *sample) parse(k kind, b []byte, s *Stats) error {
	if dst, have, seen := sm.single(k, s); dst != nil {
		n, err := parseSingle(b)
		if err != nil {
			return err
		}
		*dst, s.Have = n, s.Have|have
		if seen != nil {
			*seen = true
		}
		return nil
	}
	switch k {
	case kCPUAcctStat, kCPUStatV1, kCPUStatV2:
		return sm.parseCPU(k, b, s)
	case kMemStatV1, kMemStatV2:
		parse := parseMemoryStatV2
		if k == kMemStatV1 {
			parse = parseMemoryStatV1
		}
		st, err := parse(b)
		if err != nil {
			return err
		}
		s.MemoryRSS, s.MemoryCache = st.RSS, st.Cache
		sm.inactiveFile, sm.memStat = st.InactiveFile, true
		if st.HasSwap {
			s.MemorySwap = st.Swap
			s.Have |= HaveSwap
		}
	case kBlkioBytes, kBlkioOps:
		r, w, err := parseBlkio(b)
		if err != nil {
			return err
		}
		if k == kBlkioBytes {
			s.IOReadBytes, s.IOWriteBytes, sm.ioBytes = r, w, true
		} else {
			s.IOReadOps, s.IOWriteOps, sm.ioOps = r, w, true
		}
	case kIOStatV2:
		st, err := parseIOStat(b)
		if err != nil {
			return err
		}
		s.IOReadBytes, s.IOWriteBytes, s.IOReadOps, s.IOWriteOps = st.ReadBytes, st.WriteBytes, st.ReadOps, st.WriteOps
		sm.ioBytes, sm.ioOps = true, true
	default:
		return fmt.Errorf("cgroups: internal error: kind %d is not a usage file", k)
	}
	return nil
}

// single says where the value of a file holding one number goes: a field
// of s with the bit it sets in s.Have, or a field of sm with the flag that
// records it. dst is nil for the other kinds.
func (sm *sample) single(k kind, s *Stats) (dst *uint64, have Field, seen *bool) {
	switch k {
	case kCPUAcctUsage:
		return &s.CPUUsageNanos, HaveCPU, nil
	case kCPUAcctUser:
		return &s.CPUUserNanos, 0, &sm.user
	case kCPUAcctSys:
		return &s.CPUSystemNanos, 0, &sm.sys
	case kMemUsageV1, kMemCurrentV2:
		return &s.MemoryUsage, HaveMemory, nil
	case kMemswV1:
		return &sm.memsw, 0, &sm.memswOK
	case kSwapCurrentV2:
		return &s.MemorySwap, HaveSwap, nil
	case kPidsCurrent:
		return &s.Pids, HavePids, nil
	}
	return nil, 0, nil
}

// parseCPU parses the files of CPU time by mode and of throttling.
func (sm *sample) parseCPU(k kind, b []byte, s *Stats) error {
	var st cpuStat
	var err error
	switch k {
	case kCPUAcctStat:
		st, err = parseCPUAcctStat(b)
	case kCPUStatV1:
		st, err = parseCPUStatV1(b)
	default:
		st, err = parseCPUStatV2(b)
	}
	if err != nil {
		return err
	}
	if st.HasUsage {
		s.CPUUsageNanos = st.Usage
		s.Have |= HaveCPU
	}
	if st.HasMode {
		s.CPUUserNanos, s.CPUSystemNanos = st.User, st.System
		sm.user, sm.sys = true, true
	}
	if st.HasThrottling {
		s.CPUPeriods, s.CPUThrottledPeriods, s.CPUThrottledNanos = st.Periods, st.Throttled, st.ThrottledTime
		s.Have |= HaveThrottling
	}
	return nil
}

// Limits reads the container's CPU, memory and pids limits into l, meant
// for a slow cadence: limits change only when a container is updated. The
// files are opened for each call whatever Options.KeepOpen says. On error l
// is left empty.
func (hd *Handle) Limits(l *Limits) error {
	*l = Limits{CPUQuotaMicros: -1}
	hd.host.mu.Lock()
	defer hd.host.mu.Unlock()
	if hd.closed {
		return errClosed
	}
	bp := &hd.host.buf
	var cpu int
	for i := range hd.limits {
		f := &hd.limits[i]
		b, err := load(f, bp)
		if err == nil {
			err = parseLimit(f.kind, b, l, &cpu)
			if err != nil {
				err = fmt.Errorf("cgroups: %s: %w", f.Name(), err)
			}
		}
		if err != nil {
			*l = Limits{CPUQuotaMicros: -1}
			return err
		}
	}
	if cpu == limitQuota|limitPeriod|limitShares {
		l.Have |= HaveCPU
	}
	return nil
}

// Bits recording which CPU limits were read.
const (
	limitQuota = 1 << iota
	limitPeriod
	limitShares
)

func parseLimit(k kind, b []byte, l *Limits, cpu *int) error {
	var err error
	switch k {
	case kQuotaV1:
		l.CPUQuotaMicros, err = parseQuota(b)
		*cpu |= limitQuota
	case kPeriodV1:
		l.CPUPeriodMicros, err = parseSingle(b)
		*cpu |= limitPeriod
	case kSharesV1:
		l.CPUShares, err = parseSingle(b)
		*cpu |= limitShares
	case kCPUMaxV2:
		l.CPUQuotaMicros, l.CPUPeriodMicros, err = parseCPUMax(b)
		*cpu |= limitQuota | limitPeriod
	case kWeightV2:
		// Read as it is: what a weight means as a request depends on the
		// runtime that wrote it (resources.RequestOf decides).
		l.CPUWeight, err = parseWeight(b)
		*cpu |= limitShares
	case kMemLimitV1:
		l.MemoryLimit, err = parseV1Limit(b)
		l.Have |= HaveMemory
	case kMemMaxV2:
		l.MemoryLimit, err = parseMax(b)
		l.Have |= HaveMemory
	case kPidsMax:
		l.PidsLimit, err = parseMax(b)
		l.Have |= HavePids
	default:
		err = errors.New("internal error: not a limit file")
	}
	return err
}

// ReadRaw reads every file Read reads on each call, in the same way (pread
// at offset 0 of the kept-open descriptors, or open, read and close each),
// without parsing anything: not the OOM kill counter, read once every
// OOMRefresh. It returns the bytes read. It exists to measure the
// floor of sampling a cgroup: what the kernel charges to render the files,
// which no parser can save. It allocates nothing once the Host's buffer has
// grown to the largest file.
func (hd *Handle) ReadRaw() (int, error) {
	return hd.readRaw(hd.files)
}

// ReadLimitsRaw reads every file Limits reads, opening each as Limits
// does, without parsing. It returns the bytes read.
func (hd *Handle) ReadLimitsRaw() (int, error) {
	return hd.readRaw(hd.limits)
}

func (hd *Handle) readRaw(files []file) (int, error) {
	hd.host.mu.Lock()
	defer hd.host.mu.Unlock()
	if hd.closed {
		return 0, errClosed
	}
	total := 0
	for i := range files {
		b, err := load(&files[i], &hd.host.buf)
		if err != nil {
			return total, err
		}
		total += len(b)
	}
	return total, nil
}
