// Package analysis turns a container's history into idle ratios, costs and a
// serverless verdict. It is pure: no I/O and no clock (now is a parameter),
// so every rule below is unit-tested with synthetic histories.
//
// # Windows and figures
//
// Analyze reads the last 7 days of minutes and hours of a history.Series,
// ending at Input.Now. A minute without data (history.Minute(0)) is neither
// idle nor active and is left out of every ratio.
//
//   - ObservedFor is the number of minutes with data × 1 minute.
//   - IdleRatio1h, IdleRatio24h and IdleRatio7d are idle minutes / minutes
//     with data in the last 60, 1440 and 10080 minutes; NaN when the window
//     holds no minute with data. The 7-day ratio is "the idle ratio" used
//     for cost and verdicts: it covers whatever was observed, up to 7 days.
//   - Bursts are runs of consecutive active minutes. An idle minute ends a
//     run. Minutes without data between two active minutes (an agent
//     restart, a missed tick) belong to the run and count in its length:
//     nothing says the work paused, and a platform's duration limit must
//     hold for the whole job, so a gap must not split a 25-minute job into
//     two that each fit 15 minutes. Minutes without data followed by an
//     idle minute, or at Now, do not count. A run still going at Now
//     counts. Percentiles here and below are nearest-rank.
//   - CPUP50, CPUP95 and CPUMax are over minutes with data; CPUP95 and
//     CPUMax are exact to 0.03% (history's fine CPU codes; minutes restored
//     from a checkpoint that predates them are within 5.5%), CPUP50, from
//     which nothing is computed, within 5.5%; WorkingSetP95
//     and WorkingSetMax over the per-hour maxima of hours with data.
//   - Activity below the minute: history marks each sample busy when its
//     own rates (its deltas over its interval) are not all below the idle
//     floors, and keeps per hour the seconds of busy samples and their CPU
//     seconds, the runs of consecutive busy samples and the longest of
//     them, and the highest CPU rate of one sample (see history.Hour). Its resolution is the
//     sampling interval (10 s by default), finer where the agent measured
//     the busy time below the sample (history.Sample.Busy): from CFS
//     bandwidth periods for a container with a CPU quota, from readings
//     at a shorter interval for a few without; BusyFrom names the
//     resolution of the latest sample. BusyRatio is busy seconds /
//     seconds sampled (short of the minutes with data × 60 by the
//     minutes sampling began or ended in), at most 1, NaN without data;
//     LongestBusyRun the longest run, BusyRuns the runs begun and
//     PeakCores the highest sample rate in the window. Hours recorded
//     before history kept this (checkpoint versions 1 to 3) read as busy
//     for their active minutes in full, with all their CPU seconds, in
//     runs as long as those; hours recorded before history kept the
//     seconds sampled (versions 1 to 5) read as sampled in full.
//   - A container is duty-cycled when IdleRatio7d < candidate_idle_ratio
//     ≤ 1 − BusyRatio: its minutes hold work, but in pieces shorter than a
//     minute with idle samples between them, which a minute's average
//     hides (1 s of work every 20 s makes every minute active). A
//     container busy all the time is not: its samples are busy too.
//   - Restarts and down time: the agent notes a restart when the kubelet
//     replaces a dead container of a pod with a new one (a new id in the
//     same pod, under the same container name), whose history then goes
//     on from the dead one's; and while the newest container of a pod is
//     not running but the pod's sandbox is, it feeds down samples. A
//     minute mostly down is a down minute, and like any minute without
//     work an idle one: the pod keeps its reservation while its
//     container crash-loops or backs off, so that time is paid, idle,
//     and in the idle cost. Restarts counts the restarts in the window,
//     DownFor the down minutes × 1 minute.
//   - ListeningRatio is the share of minutes with data in which the
//     container's network namespace had a listening TCP socket (looked
//     for in net/tcp and net/tcp6 every few minutes, the answer standing
//     in between); NaN without data.
//   - IdleHoursOfDay are the UTC hours of the day during which the
//     container was idle on every day observed: an hour-of-day qualifies when
//     at least 2 days (distinct occurrences) have ≥ 45 minutes of data in it,
//     all idle, and no occurrence has a single active minute. It is empty
//     unless 48 hours were observed in total.
//
// # Reservation and cost
//
// Reserved CPU is the CFS quota/period (source "limit"), else the CPU
// shares/1024 (source "request"; shares of 2 or less are Kubernetes'
// BestEffort marker, not a request — note that a plain cgroup v1 container
// without any setting reads 1024 shares, i.e. one core), else CPUP95
// (source "observed"). Reserved memory is the memory limit ("limit"), else
// WorkingSetMax ("observed"); cgroups have no memory request. What a
// quota, shares or a memory limit mean is package resources' rule, the
// one /metrics, the API, the report and the runs' costs read them by too.
//
//   - CostPerHour = reserved cores × prices.vcpu_hour + reserved GiB ×
//     prices.gib_hour + GPUs × prices.gpu_hour. GPUs are those the spec
//     grants (Input.GPUs); a GPU-granted container whose spec does not
//     say how many (Input.GPU with GPUs 0: a runtime hook, a control
//     device) counts as one, and its reasons say that the count was
//     assumed.
//   - IdleCostPerHour = CostPerHour × IdleRatio7d; IdleCostPerMonth and
//     CurrentMonthlyCost are per-hour figures × 730 hours (365 × 24 / 12, the
//     month cloud price lists use).
//   - OverReservationWastePerMonth = 730 × the cost of (reserved − used):
//     cores above CPUP95 and bytes above WorkingSetP95, each counted only
//     when reserved by a limit or request (an observed "reservation" wastes
//     nothing). GPUs are left out: nothing measures their use.
//
// GPU idleness is not measured (no GPU utilisation source is read yet): a
// GPU-granted container's idle minutes are those of its CPU, network and
// disk, and its GPUs are paid, idle, in those minutes like its CPU and
// memory. Every analysed GPU container carries a gpu_cost reason saying
// so, with the GPU count, where it comes from and its price.
//
// # Serverless cost on a platform
//
// The billed time is estimated as a range, from what was measured in the
// window and scaled to 730 hours from the time the window's samples
// covered (its minutes with data in full for hours recorded before that
// was kept):
//
//   - low: the CPU seconds of the busy samples in the window (work done
//     while idle, below the floors, would not run there) divided by the
//     vCPUs the platform
//     gives at the size below (on a platform where CPU follows memory,
//     the size's memory / MemoryMiBPerVCPU, at most MaxVCPUs): the work
//     running flat out, never waiting, so that billed seconds × vCPUs =
//     CPU seconds.
//   - high: the larger of low and the busy seconds (every busy sample
//     billed in full: the work took at most that long in the container,
//     waits included, unless the platform's vCPUs are slower). For hours
//     recorded before activity below the minute was kept, every active
//     minute is billed in full, as the estimate was before.
//
// The high end is the realistic one: verdicts, savings, scores and
// ServerlessMonthlyCost are priced at it, ServerlessMonthlyCostLow at the
// low end, and BilledSecondsLow and BilledSecondsHigh give the range on
// that platform. A candidate's cheaper reason states the range and its
// basis (CPU seconds, busy share of the samples, runs or accepted
// connections).
//
// The peak CPU is the larger of CPUMax and PeakCores (a minute's average
// hides a second at 4 cores), capped at the CPU limit if there is one
// (history's CPU codes round, and a limited container never used more
// than its limit). vCPUs are the peak rounded up to the platform's VCPUStep, at
// least one step; with no step (a platform that hands out CPU in
// proportion to memory, such as Lambda) they are the peak itself. Memory is
// the largest of WorkingSetMax, vCPUs × MemoryMiBPerVCPU (the memory the
// platform ties to that much CPU: Lambda gives one vCPU at 1,769 MB, so a
// function doing 4 cores of work must be sized at 7,076 MB whatever its
// working set) and MinMemoryMiB, rounded up to MemoryStepMiB and at most
// MaxMemoryMiB (Lambda's 6 vCPUs come at 10,240 MB, a little under six
// times 1,769 MB: the largest size buys the most CPU there is). Function
// platforms have no vCPU price, so the vCPU term vanishes for them and
// their CPU is paid through memory. Requests per month are the
// TCP connections accepted in the window scaled the same way to 730
// hours; when none were seen, the runs of busy samples, else the number of
// bursts, scaled the same way (a run or a burst is at least one
// invocation).
//
//	monthly = billed s × (vCPUs × price_per_vcpu_second + GiB × price_per_gib_second
//	                      + GPUs × price_per_gpu_second)
//	        + requests / 1e6 × price_per_million_requests
//
// (GPUs as in CostPerHour; only a platform that offers GPUs can host them.)
//
// # Blockers
//
// A blocker rules a platform out:
//
//   - gpu: a GPU is attached and the platform offers none.
//   - pod_sandbox: the container is a pod's sandbox (pause) container
//     (Input.Sandbox). The pod is the unit of a decision; its sandbox holds
//     the pod's namespaces and is never a candidate of its own.
//   - latency_critical: label fleetscope.io/latency-critical is true; cold
//     starts are not acceptable.
//   - burst_too_long: the longest burst exceeds the platform's MaxDuration;
//     for a duty-cycled container, the LongestBusyRun does (its minute
//     bursts are as long as its life).
//   - memory_too_large: WorkingSetMax exceeds the platform's MaxMemoryMiB.
//   - cpu_too_large: the peak CPU exceeds the platform's MaxVCPUs.
//   - local_disk_writes: the container keeps state on local disk: it wrote
//     at least 1 MiB to block devices in the window and its average write
//     rate over its active seconds exceeds the idle disk floor (label
//     override included). Idle minutes are below that floor by definition,
//     so the writes that count are those made while working.
//   - restarting: the container restarted in the window and was down for
//     at least 10% of ObservedFor. Its idle time is downtime, not spare
//     capacity: it needs fixing before it moves anywhere. It also rules
//     out scale-to-zero-schedule.
//   - listener: the container listened on a TCP port in at least 90% of
//     its minutes (an always-on server) and the platform does not route
//     connections to one (listen false: a function is invoked with
//     events; a serverless container gets requests on its port).
//   - not_idle_enough: IdleRatio7d is below candidate_idle_ratio and the
//     container is not duty-cycled.
//   - not_cheaper: every platform without another blocker would cost at
//     least what the container costs now.
//   - saving_too_small: a platform without another blocker would cost less,
//     but would save less than min_saving_per_month. A move is work and
//     risk; a pause container saving a tenth of a cent or a BestEffort one
//     saving four cents a month is not worth it.
//
// # Verdicts, first match wins
//
//  1. insufficient-data: ObservedFor < min_observation, or nothing was
//     observed at all. Figures and blockers are still filled in.
//  2. function: a function platform without a blocker: its monthly cost
//     is below CurrentMonthlyCost by at least min_saving_per_month. Of
//     several, the cheapest is the verdict's, and its cheaper reason names
//     the others that fit and their costs.
//  3. serverless-container: the same for the container platforms (reached
//     when every function platform is blocked, typically by burst length,
//     memory or a listening port, or costs more).
//
// The platforms compared are the rows of the serverless price table the
// configuration picks (package pricing; analysis.serverless), functions
// first, else analysis.platforms' function and container. Only the
// blockers of the platforms of a kind before the verdict's are stated: a
// serverless container's reasons say why no function fits, not why the
// serverless containers it was cheaper than were passed over. A platform
// with MaxDuration 0 has no run limit.
//  4. scale-to-zero-schedule: a Sleep schedule of 6 hours every workday
//     or 42 hours a week, no GPU at all (whatever the platforms allow), not
//     latency-critical, not a pod sandbox and not restarting, no
//     connection its replay says it would have refused, and stopping it
//     then saves at least min_saving_per_month. Stopping the container
//     needs no platform, so stateful, long-running or large containers
//     qualify. Idle in every hour of the week, it needs no schedule: its
//     reason is unused (scale it to zero or remove it), not
//     always_idle_hours.
//  5. rightsize: CPU or memory reserved by a limit or request whose unused
//     part at the p95 (reserved − p95) is at least rightsize_ratio of it,
//     and whose cost (OverReservationWastePerMonth) is at least
//     min_saving_per_month.
//  6. keep: with a below_min_saving reason when a schedule or a rightsize
//     would save something, but less than min_saving_per_month (no
//     suggestion is worth less, whatever the verdict), else
//     reservation_used.
//
// Whatever the verdict, a container that restarted or was down in the
// window has a restarts reason (how often, how long down, that the down
// time is in the idle cost), and a serverless-container candidate that
// listens has a listener reason (its port takes the requests).
//
// A GPU container therefore never gets function, serverless-container or
// scale-to-zero-schedule unless the platform table says a platform offers
// GPUs (only then for 2 and 3).
//
// ServerlessMonthlyCost is the cost on the verdict's platform, else on the
// cheapest platform without a blocker other than not_cheaper and
// saving_too_small (then SavingsPerMonth = CurrentMonthlyCost −
// ServerlessMonthlyCost is below min_saving_per_month), else 0 with
// SavingsPerMonth 0.
//
// # Sleep schedule and its replay
//
// With at least 2 days observed, the hours of the window are counted in
// analysis.time_zone (default UTC) by day type, workdays (Monday to
// Friday) and weekend days, and hour of the day: an hour with an active
// minute refutes its cell, one with 45 minutes of data and none active
// confirms it, as for IdleHoursOfDay. The schedule sleeps in the cells
// confirmed on at least 2 days and never refuted: nights of workdays and
// weekends are apart, so an office service sleeps from its evening to
// its morning and all weekend. A zone off UTC by a fraction of an hour
// takes each UTC hour as the zone's hour it starts in. The saving is
// CostPerHour × hours asleep a week / 168 × 730.
//
// The replay runs the schedule over the window's hours: the hours it
// sleeps through, the starts (each sleep ending within the window), and
// the TCP connections accepted while asleep above the hourly background
// (the lowest count of an hour with data in the window: probes and scrapes
// arrive every hour). An hour asleep with more than a tenth and one
// connection above that background is one the schedule would have
// refused; one such hour rules the schedule out, with a
// refused_connections reason saying how many connections in how many
// hours. Requests that small make no minute active, so only the replay
// sees them. A store's window (package fleet) carries no hourly
// connections: its schedules are not replayed.
//
// # Score
//
// Score (0..100) is non-zero only for function and serverless-container:
//
//	round(100 × idle × money × (0.5 + 0.5 × saved) × (0.75 + 0.25 × fit)), at least 1
//
// where idle is IdleRatio7d (1 − BusyRatio for a duty-cycled container),
// saved is SavingsPerMonth / CurrentMonthlyCost and fit is 1 − Bursts.P95
// / MaxDuration (LongestBusyRun / MaxDuration for a duty-cycled
// container), both clamped to [0, 1], and
//
//	money = SavingsPerMonth / (SavingsPerMonth + 10 × min_saving_per_month)
//
// (1 when min_saving_per_month is 0): the money saved in absolute terms,
// reaching one half at ten times the minimum saving. A candidate that saves
// little scores low however idle it is, so sorting by score puts the
// largest savings first; then idleness, the share of money saved and the
// headroom typical bursts leave under the platform's limit.
//
// # Runs of Jobs and CronJobs
//
// A CronJob's runs are separate, short-lived pods, so no container's
// history says anything about the workload. AnalyzeRuns judges the runs
// the agent saw (RunStats: one run per Job, from its pod's first start to
// its last running sample, CPU seconds and peak working set summed over
// the pod's containers):
//
//   - RunsPerMonth = Count / Window × 730 hours, where Window runs from the
//     first run's start to now (at least one hour).
//   - ContainerMonthlyCost = RunsPerMonth × mean run duration × the pod's
//     reserved cost per hour (prices as above): a run's pod reserves its
//     requests or limits while it exists, and only then.
//   - Serverless cost on a platform: each run is one invocation of the
//     mean duration, sized as above with the peak CPU (the highest average
//     cores of a run) and the peak working set.
//   - Verdict: insufficient-data below 2 runs; keep when the runs cover at
//     least 80% of the window (near-continuous: a long-running service
//     costs less); function when the longest run, the peak memory and the
//     peak CPU fit the function platform and it is cheaper;
//     serverless-container when they fit that platform and it is cheaper;
//     keep otherwise. Each verdict states its figures in Reasons.
package analysis
