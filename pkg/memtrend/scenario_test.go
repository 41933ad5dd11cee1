package memtrend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

// worker is a random worker's heap model: its start-up heap, young
// generation, promotion and old-generation limit, idle allocation and a
// warm-up of warmFor seconds.
func worker(rng *rand.Rand, warmFor float64) v8 {
	return v8{
		base:    30 + rng.Float64()*120,
		warmUp:  10 + rng.Float64()*70,
		warmFor: warmFor,
		semi:    []float64{1, 2, 4, 8, 16}[rng.IntN(5)],
		survive: 0.002 + rng.Float64()*0.028,
		factor:  1.2 + rng.Float64()*0.8,
		minHead: 4 + rng.Float64()*28,
		idle:    0.01 + rng.Float64()*0.19,
	}
}

// promoted is how fast garbage fills m's old generation under its
// loads at s seconds, MiB a minute, and the time it takes to fill up
// to a mark-compact, seconds.
func (m v8) promoted(s float64) (perMin, cycle float64) {
	alloc := m.idle
	for _, l := range m.loads {
		if s >= l.From && s < l.To {
			alloc += l.Rate * l.Garbage / 1024
		}
	}
	perMin = m.survive * alloc * 60
	live := m.base + m.warmUp
	return perMin, max(live*(m.factor-1), m.minHead) / perMin * 60
}

// decidable reports whether m's heap, judged at age seconds, has its
// old-generation garbage either growing slower than half of MinRate or
// collected three times over the judged part. Otherwise that garbage
// growing, not yet collected, looks the same as a leak; no rule on the
// heap alone tells them apart.
func (m v8) decidable(age float64) bool {
	perMin, cycle := m.promoted(age)
	judged := age - max(DefaultRules.WarmUp*age, DefaultRules.MinWarmUp.Seconds())
	return perMin < DefaultRules.MinRate/mib/2 || cycle <= judged/3
}

// decidableWorker draws workers with make until one is decidable at age.
func decidableWorker(rng *rand.Rand, age float64, make func(rng *rand.Rand) v8) v8 {
	for {
		if m := make(rng); m.decidable(age) {
			return m
		}
	}
}

// between is a random number in [lo, hi).
func between(rng *rand.Rand, lo, hi float64) float64 { return lo + rng.Float64()*(hi-lo) }

// logBetween is a random number in [lo, hi), as likely in each octave.
func logBetween(rng *rand.Rand, lo, hi float64) float64 {
	return math.Exp(between(rng, math.Log(lo), math.Log(hi)))
}

// sample is what a verdict is given: the worker's start and its samples.
type sample struct {
	started time.Time
	points  []Point
	// later is the same worker judged 20 s later, when a mark-compact
	// since hidden (the start of the load) may have hidden a leak.
	later     *sample
	compacted []time.Time
	hidden    time.Time
}

// hid reports whether a mark-compact ran since x.hidden: it may have
// collected as much old garbage as the leak added.
func (x sample) hid() bool {
	end := x.points[len(x.points)-1].Time
	for _, c := range x.compacted {
		if !c.Before(x.hidden) && !c.After(end) {
			return true
		}
	}
	return false
}

var simStart = t0

// byStatus is the worker's report read by status at age seconds.
func byStatus(rng *rand.Rand, m v8, age int) sample {
	ps, mcs := m.run(rng, simStart, age)
	return sample{started: simStart.Add(-300 * time.Millisecond), points: report(ps), compacted: mcs}
}

// byWatch is a watch from the worker's start for secs (activate --watch:
// the switch starts the workers).
func byWatch(rng *rand.Rand, m v8, secs int) sample {
	ps, mcs := m.run(rng, simStart, secs)
	return sample{started: simStart.Add(-300 * time.Millisecond), points: ps[1:], compacted: mcs}
}

// andLater is the worker judged at secs seconds (a status report, or a watch from the
// start), with the same worker 20 s later as x.later; hidden is the
// start of its load.
func andLater(rng *rand.Rand, m v8, secs int, hidden float64, watch bool) sample {
	ps, mcs := m.run(rng, simStart, secs+20)
	x := sample{started: simStart.Add(-300 * time.Millisecond), compacted: mcs, hidden: simStart.Add(dur(hidden))}
	later := x
	if watch {
		x.points, later.points = ps[1:secs+1], ps[1:]
	} else {
		x.points, later.points = report(ps[:secs+1]), report(ps)
	}
	x.later = &later
	return x
}

// scenario is a kind of worker and when it is judged, with the verdicts
// that are right for it.
type scenario struct {
	name string
	make func(rng *rand.Rand) sample
	// never is a verdict no seed may get; always, one every seed must,
	// or 20 s later when a mark-compact during the load hid it (see
	// hiddenLeak).
	never, always string
}

// hiddenLeak counts the leaks found only 20 s later: a mark-compact
// during the new load collected as much old garbage (promoted in the
// quiet time before) as the leak had added, so the floor was no higher
// than before the load, and no rule on the heap can tell yet.
const hiddenLeak = "leak 20 s later (a mark-compact hid it)"

func scenarios() []scenario {
	var out []scenario
	// Issue 16 item 5: status 19 s after activate, the workers warming up
	// (caches fill for 20 s to 3 minutes) under load: no verdict.
	out = append(out, scenario{name: "young worker at 19 s, warming up", always: TooYoung, make: func(rng *rand.Rand) sample {
		m := worker(rng, between(rng, 20, 180))
		m.loads = []load{{From: between(rng, 0, 5), To: 1e9, Rate: logBetween(rng, 1, 50), Garbage: between(rng, 16, 200)}}
		return byStatus(rng, m, 19)
	}})
	// A warm-up that settles, judged when it has been over for as long.
	for _, w := range []float64{10, 20, 30, 45} {
		for _, age := range []int{60, 90, 120, 360} {
			if float64(age) < 2*w {
				continue
			}
			out = append(out, scenario{name: fmt.Sprintf("warm-up of %.0f s, at %d s", w, age), never: Leak, make: func(rng *rand.Rand) sample {
				m := decidableWorker(rng, float64(age), func(rng *rand.Rand) v8 {
					m := worker(rng, w)
					m.loads = []load{{From: 0, To: 1e9, Rate: logBetween(rng, 0.5, 50), Garbage: between(rng, 16, 200)}}
					return m
				})
				return byStatus(rng, m, age)
			}})
		}
	}
	// 64 KiB kept per request, 40 s of load on a worker that has run for
	// 20 s to 28 minutes with little traffic (status during a load test).
	for _, rate := range []float64{5, 10, 20, 50} {
		out = append(out, scenario{name: fmt.Sprintf("64 KiB/request at %.0f/s, 40 s into the load", rate), always: Leak, make: func(rng *rand.Rand) sample {
			m := worker(rng, between(rng, 5, 20))
			before := logBetween(rng, 20, 28*60)
			m.loads = []load{
				{From: 0, To: 1e9, Rate: between(rng, 0, 2), Garbage: between(rng, 16, 200)},
				{From: before, To: 1e9, Rate: rate, Garbage: between(rng, 16, 128), Leak: 64},
			}
			return andLater(rng, m, int(before)+40, before, false)
		}})
	}
	// The same, from the switch on, watched for 75 s (activate --watch).
	for _, rate := range []float64{5, 20} {
		out = append(out, scenario{name: fmt.Sprintf("64 KiB/request at %.0f/s from the start, watched 75 s", rate), always: Leak, make: func(rng *rand.Rand) sample {
			m := worker(rng, between(rng, 5, 30))
			m.loads = []load{{From: 0, To: 1e9, Rate: rate, Garbage: between(rng, 16, 128), Leak: 64}}
			return andLater(rng, m, 75, 0, true)
		}})
	}
	// Heavy allocation, nothing kept: a big young generation scavenged
	// every few MiB, old-generation garbage collected by mark-compacts.
	heavy := func(rng *rand.Rand) v8 {
		m := worker(rng, between(rng, 5, 30))
		m.semi = []float64{8, 16}[rng.IntN(2)]
		m.loads = []load{{From: 0, To: 1e9, Rate: logBetween(rng, 10, 50), Garbage: between(rng, 64, 256)}}
		return m
	}
	out = append(out,
		scenario{name: "flat, heavy sawtooth, status at 1 to 30 min", never: Leak, make: func(rng *rand.Rand) sample {
			age := int(logBetween(rng, 60, 30*60))
			return byStatus(rng, decidableWorker(rng, float64(age), heavy), age)
		}},
		scenario{name: "flat, heavy sawtooth, watched 75 s", never: Leak, make: func(rng *rand.Rand) sample {
			return byWatch(rng, decidableWorker(rng, 75, heavy), 75)
		}},
		// Not judged: what the verdict says when garbage fills the old
		// generation at MinRate or more with no mark-compact in sight.
		scenario{name: "flat, heavy sawtooth, undecidable, status 1-30 min", make: func(rng *rand.Rand) sample {
			age := int(logBetween(rng, 60, 30*60))
			for {
				if m := heavy(rng); !m.decidable(float64(age)) {
					return byStatus(rng, m, age)
				}
			}
		}},
	)
	return out
}

// tally counts the verdicts of seeds of s.
func tally(s scenario, seeds int, judge func(sample) string) map[string]int {
	n := map[string]int{}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x6d656d))
		x := s.make(rng)
		v := judge(x)
		if v != s.always && s.always == Leak && x.later != nil && x.hid() && judge(*x.later) == Leak {
			v = hiddenLeak
		}
		n[v]++
	}
	return n
}

func counts(n map[string]int) string {
	var ks []string
	for k := range n {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, " %s %d", k, n[k])
	}
	return b.String()
}

func judge(x sample) string { return Analyze(x.points, x.started, DefaultRules).Verdict }

// Every scenario, over many seeds (the same each run): never a verdict it
// must not get, always the one it must. The log has the counts.
func TestScenarios(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 40
	}
	var summary strings.Builder
	for _, s := range scenarios() {
		n := tally(s, seeds, judge)
		fmt.Fprintf(&summary, "\n%-55s%s", s.name+":", counts(n))
		if s.never != "" && n[s.never] > 0 {
			t.Errorf("%s: %d of %d seeds: %s, want none", s.name, n[s.never], seeds, s.never)
		}
		if s.always != "" && n[s.always]+n[hiddenLeak] != seeds {
			t.Errorf("%s: %d of %d seeds: %s, want all", s.name, n[s.always]+n[hiddenLeak], seeds, s.always)
		}
	}
	t.Logf("verdicts of %d seeds each:%s", seeds, summary.String())
}
