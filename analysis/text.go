package analysis

import "github.com/fleetscope/fleetscope/config"

// This file holds the words of Analyze: every reason's text is written
// here, from a decision and the figures it was made on, into one buffer
// (see textBuilder).

// render states d: its blockers, then its other reasons, each once, in
// the order of their codes, into fa.r's Blockers and Reasons.
func render(t *textBuilder, fa *facts, d *decision) {
	t.reset()
	blockers := d.blockers()
	for c := range numCodes {
		if blockers.has(c) {
			blockerText(t.begin(c.String(), true), fa, d, c)
		}
	}
	for c := range numCodes {
		if d.reasons.has(c) {
			reasonText(t.begin(c.String(), false), fa, d, c)
		}
	}
	t.finish(fa.r)
}

// blockerText writes why c rules out the platforms it blocks, naming them
// where the platforms differ.
func blockerText(t *textBuilder, fa *facts, d *decision, c reasonCode) {
	r, cfg := fa.r, fa.cfg
	cur := cfg.Prices.Currency
	ps, n := d.blockedBy(c)
	switch c {
	case codeGPU:
		t.s("a GPU is attached, which ").names(fa.platforms, ps[:n]).s(" cannot provide")
	case codePodSandbox:
		t.s("a pod sandbox (pause) container: the pod is the unit of a decision, not its sandbox")
	case codeRestarting:
		t.s("restarted ").times(r.Restarts).s(" and down ").dur(r.DownFor).s(" (").pct(float64(r.DownFor) / float64(r.ObservedFor)).
			s(" of the time observed): its idle time is downtime; fix it before moving it")
	case codeListener:
		t.s("listens on a TCP port in ").pct(r.ListeningRatio).s(" of its minutes, an always-on server, which ").
			names(fa.platforms, ps[:n]).s(" cannot run: it invokes handlers, it connects to no port")
	case codeLatencyCritical:
		t.s("labelled ").s(LabelLatencyCritical).s(": cold starts are not acceptable")
	case codeBurstTooLong:
		if r.DutyCycled {
			t.s("longest run of work ")
		} else {
			t.s("longest burst of activity ")
		}
		t.dur(d.longest).s(" exceeds the limit of ").limits(fa.platforms, ps[:n], c)
	case codeMemoryTooLarge:
		t.s("peak working set ").mib(r.WorkingSetMax).s(" exceeds the limit of ").limits(fa.platforms, ps[:n], c)
	case codeCPUTooLarge:
		t.s("peak CPU ").num(d.peakCPU, 2).s(" cores exceeds the limit of ").limits(fa.platforms, ps[:n], c)
	case codeLocalDiskWrites:
		t.s("writes ").num(fa.writeRate, 0).s(" B/s to local disk while active (idle floor ").num(fa.diskFloor, 0).s(" B/s): it keeps state")
	case codeNotIdleEnough:
		if r.ObservedFor == 0 {
			t.s("never observed")
		} else {
			t.s("idle ").pct(r.IdleRatio7d).s(" of the ").dur(r.ObservedFor).s(" observed, below the ").pct(cfg.CandidateIdleRatio).s(" needed")
		}
	case codeNotCheaper:
		for i, p := range ps[:n] {
			t.and(i).s("as ").s(fa.platforms[p].Name).s(" ").money(d.fits[p].cost, cur)
		}
		t.s(" a month is not less than ").money(r.CurrentMonthlyCost, cur).s(" now")
	case codeSavingTooSmall:
		for i, p := range ps[:n] {
			t.and(i).s("as ").s(fa.platforms[p].Name).s(" it would save ").money(r.CurrentMonthlyCost-d.fits[p].cost, cur)
		}
		t.s(" a month, less than the ").money(cfg.MinSavingPerMonth, cur).s(" a candidate must save")
	}
}

// and writes the " and " before the i-th item of a list.
func (t *textBuilder) and(i int) *textBuilder {
	if i > 0 {
		t.s(" and ")
	}
	return t
}

// names writes the names of ps.
func (t *textBuilder) names(all []config.PlatformConfig, ps []platformID) *textBuilder {
	for i, p := range ps {
		t.and(i).s(all[p].Name)
	}
	return t
}

// limits writes "<limit> (<platform>)" for each of ps, the limit that
// c, codeBurstTooLong, codeMemoryTooLarge or codeCPUTooLarge, exceeds.
func (t *textBuilder) limits(all []config.PlatformConfig, ps []platformID, c reasonCode) *textBuilder {
	for i, id := range ps {
		p := &all[id]
		t.and(i)
		switch c {
		case codeBurstTooLong:
			t.dur(p.MaxDuration)
		case codeCPUTooLarge:
			t.num(p.MaxVCPUs, 2).s(" vCPUs")
		default:
			t.mib(p.MaxMemoryMiB << 20)
		}
		t.s(" (").s(p.Name).s(")")
	}
	return t
}

// reasonText writes the reason c for the verdict, with its numbers.
func reasonText(t *textBuilder, fa *facts, d *decision, c reasonCode) {
	r, cfg := fa.r, fa.cfg
	var p *config.PlatformConfig
	if d.platform != noPlatform {
		p = &fa.platforms[d.platform]
	}
	switch c {
	case codeInsufficientData:
		if r.ObservedFor == 0 {
			t.s("no data in the last 7 days")
		} else {
			t.s("observed ").dur(r.ObservedFor).s(" of the ").dur(cfg.MinObservation).s(" needed for a verdict")
		}
	case codeIdleRatioHigh:
		if r.DutyCycled {
			t.s("busy in ").pct(r.BusyRatio).s(" of the sampled time of the ").dur(r.ObservedFor).
				s(" observed").s(busyFromText(r.BusyFrom)).s(", though active in ").pct(1 - r.IdleRatio7d).s(" of its minutes: work in pieces shorter than a minute (candidates from ").
				pct(cfg.CandidateIdleRatio).s(" idle)")
		} else {
			t.s("idle ").pct(r.IdleRatio7d).s(" of the ").dur(r.ObservedFor).s(" observed (candidates from ").pct(cfg.CandidateIdleRatio).s(")")
		}
	case codeShortBursts:
		if r.DutyCycled {
			t.int(r.BusyRuns).s(" runs of work, longest ").dur(r.LongestBusyRun)
		} else {
			t.int(r.Bursts.Count).s(" bursts of activity, p95 ").dur(r.Bursts.P95).s(", longest ").dur(r.Bursts.Max)
		}
		t.s(", within the ").s(p.Name).s(" limit of ").dur(p.MaxDuration)
	case codeCheaper:
		cheaperText(t, fa, d)
	case codeListener:
		t.s("listens on a TCP port in ").pct(r.ListeningRatio).s(" of its minutes: ").s(p.Name).s(" sends requests to that port")
	case codeAlwaysIdleHours:
		t.s("never active ").sleepText(&r.Sleep).s(": sleeping then, ").int(d.scheduleHours).s(" hours a week, saves about ").
			money(d.scheduleSaving, cfg.Prices.Currency).s(" a month")
		if p := &r.Replay; p.Done {
			t.s("; replayed over the hours recorded, it sleeps ").int(p.HoursAsleep).s(" of them, starts ").times(p.Starts).
				s(" and refuses no connection above the background")
		}
	case codeRefusedConnections:
		p := &r.Replay
		t.s("a schedule sleeping ").sleepText(&r.Sleep).s(", when it was never active, would have refused ").num(p.Connections, 0).
			s(" connections in ").int(p.RefusedHours).s(" of the hours recorded: no schedule is suggested")
	case codeOverReserved:
		overText(t, fa, d)
	case codeUnused:
		t.s("never active in any hour of the days observed: nothing used it; scale it to zero or remove it, which saves ").
			money(d.scheduleSaving, cfg.Prices.Currency).s(" a month")
	case codeBelowMinSaving:
		smallMoneyText(t, fa, d)
	case codeReservationUsed:
		usedText(t, r)
	case codeGPUCost:
		gpuText(t, fa)
	case codeRestarts:
		t.s("restarted ").times(r.Restarts).s(" and down ").dur(r.DownFor).s(" of the ").dur(r.ObservedFor).
			s(" observed while its pod lived: the pod kept its reservation, so that time is paid, idle, and in the idle cost")
	}
}

// usedText states what the container uses of what it reserves, and only
// what was observed: a figure without a reservation is not compared with
// one.
func usedText(t *textBuilder, r *Result) {
	res := &r.Reserved
	if res.CPUSource == SourceObserved {
		t.s("no CPU request or limit; p95 uses ").num(r.CPUP95, 3).s(" cores")
	} else {
		t.s("p95 uses ").num(r.CPUP95, 3).s(" of ").num(res.CPUCores, 3).s(" cores (").s(res.CPUSource).s(")")
	}
	if res.MemorySource == SourceObserved {
		t.s("; no memory limit, peak working set ").mib(r.WorkingSetMax)
	} else {
		t.s(" and ").mib(r.WorkingSetP95).s(" of ").mib(res.MemoryBytes).s(" (").s(res.MemorySource).s(")")
	}
}

// smallMoneyText states the changes that would save less than a
// suggestion must.
func smallMoneyText(t *textBuilder, fa *facts, d *decision) {
	r, cur := fa.r, fa.cfg.Prices.Currency
	n := 0
	if schedulable(fa) {
		t.s("stopping it in its ").int(r.Sleep.HoursPerWeek()).s(" always-idle hours a week would save ").money(scheduleSaving(r), cur).s(" a month")
		n++
	}
	if d.overCPU || d.overMemory {
		t.and(n).s("rightsizing it would save ").money(r.OverReservationWastePerMonth, cur).s(" a month")
	}
	t.s(", less than the ").money(fa.cfg.MinSavingPerMonth, cur).s(" a suggestion must save")
}

// countedFromText says what requests were counted from.
var countedFromText = [...]string{fromAccepts: "accepted connections", fromRuns: "runs of work", fromBursts: "bursts"}

// cheaperText states the serverless cost's range on the verdict's
// platform, its basis, and the platforms of its kind it was cheaper than.
func cheaperText(t *textBuilder, fa *facts, d *decision) {
	r, cur := fa.r, fa.cfg.Prices.Currency
	p, f := &fa.platforms[d.platform], &d.fits[d.platform]
	t.s("as ").s(p.Name).s(" it would cost ").moneyRange(f.costLow, f.cost, cur).
		s(" a month instead of ").money(r.CurrentMonthlyCost, cur).s(", saving ").money(r.SavingsPerMonth, cur).s(" at the high end; billed ").
		durRange(seconds(f.secLow), seconds(f.secHigh)).s(" a month: low, ").num(fa.cpuSeconds, 0).s(" CPU-seconds flat out at ").num(f.vcpus, 3).
		s(" vCPU; high, busy in ").pct(r.BusyRatio).s(" of the sampled time; ").num(fa.requests, 0).s(" requests, from ").s(countedFromText[fa.requestsFrom])
	n := 0
	for q := range d.n {
		if q == d.platform || d.function[q] != d.function[d.platform] || d.fits[q].blocked != 0 {
			continue
		}
		if n == 0 {
			t.s("; the cheapest ").s(p.Kind).s(" platform that fits, before ")
		}
		t.and(n).s(fa.platforms[q].Name).s(" at ").money(d.fits[q].cost, cur)
		n++
	}
}

// overText states the over-reserved parts and what they cost.
func overText(t *textBuilder, fa *facts, d *decision) {
	r := fa.r
	t.s("p95 uses ")
	if d.overCPU {
		t.num(r.CPUP95, 3).s(" of ").num(r.Reserved.CPUCores, 3).s(" reserved cores (").s(r.Reserved.CPUSource).s(")")
	}
	if d.overCPU && d.overMemory {
		t.s(" and ")
	}
	if d.overMemory {
		t.mib(r.WorkingSetP95).s(" of ").mib(r.Reserved.MemoryBytes).s(" reserved (").s(r.Reserved.MemorySource).s(")")
	}
	t.s("; the unused reservation costs ").money(r.OverReservationWastePerMonth, fa.cfg.Prices.Currency).s(" a month")
}

// gpuText says what the container's GPUs cost, and that their idleness is
// inferred.
func gpuText(t *textBuilder, fa *facts) {
	r, p := fa.r, &fa.cfg.Prices
	t.int(r.Reserved.GPUs)
	if r.Reserved.GPUs == 1 {
		t.s(" GPU")
	} else {
		t.s(" GPUs")
	}
	if r.Reserved.GPUsAssumed {
		t.s(" (the spec grants GPUs without saying how many: 1 assumed)")
	}
	t.s(" at ").money(p.GPUHour, p.Currency).s(" an hour each, ").money(float64(r.Reserved.GPUs)*p.GPUHour*HoursPerMonth, p.Currency).
		s(" a month, are in the cost; GPU idleness is inferred from CPU, network and disk, as no GPU utilisation is read yet")
}
