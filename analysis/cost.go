package analysis

import (
	"math"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
	"github.com/fleetscope/fleetscope/resources"
)

// This file holds the arithmetic of money: what the container reserves and
// costs, the work it does in a month, and what that work would cost on a
// serverless platform. See "Reservation and cost" and "Serverless cost on
// a platform" in the package documentation.

const gibibyte = 1 << 30

func reservedOf(in *Input, r *Result) Reserved {
	var res Reserved
	limit, request := resources.CPULimitCores(in.CPUQuotaMicros, in.CPUPeriodMicros), resources.CPURequestCores(in.CPUShares)
	switch {
	case limit > 0:
		res.CPUCores = limit
		res.CPUSource = SourceLimit
	case request > 0:
		res.CPUCores = request
		res.CPUSource = SourceRequest
	default:
		res.CPUCores = r.CPUP95
		res.CPUSource = SourceObserved
	}
	if in.GPU || in.GPUs > 0 {
		res.GPUs = max(in.GPUs, 0)
		if res.GPUs == 0 {
			res.GPUs, res.GPUsAssumed = 1, true
		}
	}
	if mem := resources.MemoryLimit(in.MemoryLimitBytes); mem > 0 {
		res.MemoryBytes = mem
		res.MemorySource = SourceLimit
	} else {
		res.MemoryBytes = r.WorkingSetMax
		res.MemorySource = SourceObserved
	}
	return res
}

// idleShare is the idle ratio money is weighed by: IdleRatio7d, 0 without
// data.
func idleShare(r *Result) float64 {
	if math.IsNaN(r.IdleRatio7d) {
		return 0
	}
	return r.IdleRatio7d
}

// HourlyCost is what a reservation of cores, memory bytes and GPUs costs
// an hour at p's unit prices: the one formula every cost is priced by,
// here and in the fleet's repricing.
func HourlyCost(cores, memoryBytes, gpus float64, p *config.PriceConfig) float64 {
	return cores*p.VCPUHour + memoryBytes/gibibyte*p.GiBHour + gpus*p.GPUHour
}

// price fills the costs of r from its Reserved and its figures: per hour,
// idle, per month, and the over-reservation waste.
func price(r *Result, p *config.PriceConfig) {
	cores := r.Reserved.CPUCores
	r.CostPerHour = HourlyCost(cores, float64(r.Reserved.MemoryBytes), float64(r.Reserved.GPUs), p)
	r.IdleCostPerHour = r.CostPerHour * idleShare(r)
	r.IdleCostPerMonth = r.IdleCostPerHour * HoursPerMonth
	r.CurrentMonthlyCost = r.CostPerHour * HoursPerMonth
	var unusedCores, unusedBytes float64
	if r.Reserved.CPUSource != SourceObserved {
		unusedCores = max(cores-r.CPUP95, 0)
	}
	if r.Reserved.MemorySource != SourceObserved && r.Reserved.MemoryBytes > r.WorkingSetP95 {
		unusedBytes = float64(r.Reserved.MemoryBytes - r.WorkingSetP95)
	}
	r.OverReservationWastePerMonth = HourlyCost(unusedCores, unusedBytes, 0, p) * HoursPerMonth
}

// work fills fa's requests and work per month from the window's totals,
// and its write rate over the window's active minutes.
func (fa *facts) work(tot *history.Totals, activeMinutes int) {
	r := fa.r
	// Requests per month: accepted connections, else runs of busy
	// samples, else bursts; these and the work are scaled from the time
	// observed to a month.
	if hours := r.ObservedFor.Hours(); hours > 0 {
		// What samples counted scales from the time they covered, which
		// is short of the minutes where sampling began or ended.
		scale := HoursPerMonth / hours
		if tot.SampledSeconds > 0 {
			scale = HoursPerMonth * 3600 / tot.SampledSeconds
		}
		fa.requests, fa.requestsFrom = tot.TCPAccepts, fromAccepts
		switch {
		case tot.TCPAccepts > 0:
		case tot.BusyRuns > 0:
			fa.requests, fa.requestsFrom = float64(tot.BusyRuns), fromRuns
		default:
			fa.requests, fa.requestsFrom = float64(r.Bursts.Count), fromBursts
		}
		fa.requests *= scale
		fa.cpuSeconds = tot.BusyCPUSeconds * scale
		fa.busySeconds = tot.BusySeconds * scale
	}
	if as := float64(activeMinutes) * 60; tot.DiskWriteBytes >= statefulMinWriteBytes && as > 0 {
		fa.writeRate = tot.DiskWriteBytes / as
	}
}

// size is what the container would be sized at on p: vCPUs and MiB.
func size(r *Result, p *config.PlatformConfig) (vcpus float64, mib uint64) {
	vcpus = peakCPU(r)
	if step := p.VCPUStep; step > 0 {
		vcpus = max(math.Ceil(vcpus/step), 1) * step
	}
	mib = (r.WorkingSetMax + 1<<20 - 1) >> 20
	// The memory that comes with the CPU the work needs: a function at
	// 128 MB gets a fourteenth of a core, so 4 cores of work run 14 times
	// as long there, and are billed as such; sizing memory to the CPU
	// prices that work as the platform would.
	if perVCPU := vcpus * p.MemoryMiBPerVCPU; perVCPU > float64(mib) {
		mib = uint64(math.Ceil(perVCPU))
	}
	mib = max(mib, p.MinMemoryMiB)
	if step := p.MemoryStepMiB; step > 0 {
		mib = (mib + step - 1) / step * step
	}
	// A working set above the maximum is a blocker of its own; CPU above
	// what the largest size buys is priced at the largest size.
	if r.WorkingSetMax <= p.MaxMemoryMiB<<20 {
		mib = min(mib, p.MaxMemoryMiB)
	}
	return vcpus, mib
}

// serverlessCost fills f's billed time and monthly costs on p, low and
// high.
func serverlessCost(fa *facts, p *config.PlatformConfig, f *fit) {
	vcpus, mib := size(fa.r, p)
	// The speed the work runs at there: what the size buys where CPU
	// follows memory, else the vCPUs chosen.
	f.vcpus = vcpus
	if p.VCPUStep == 0 && p.MemoryMiBPerVCPU > 0 {
		f.vcpus = min(float64(mib)/p.MemoryMiBPerVCPU, p.MaxVCPUs)
	}
	f.secHigh = fa.busySeconds
	if f.vcpus > 0 {
		f.secLow = fa.cpuSeconds / f.vcpus
		f.secHigh = max(f.secHigh, f.secLow)
	} else {
		f.secLow = f.secHigh
	}
	perSecond := vcpus*p.PricePerVCPUSecond + float64(mib)/1024*p.PricePerGiBSecond + float64(fa.r.Reserved.GPUs)*p.PricePerGPUSecond
	fee := fa.requests / 1e6 * p.PricePerMillionRequests
	f.cost = f.secHigh*perSecond + fee
	f.costLow = f.secLow*perSecond + fee
}
