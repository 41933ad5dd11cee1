package memtrend

import (
	"math"
	"math/rand/v2"
	"time"
)

// v8 is a model of a Node worker's heap, as process.memoryUsage().heapUsed
// shows it once a second: the young generation fills with what requests
// allocate and is scavenged when full (survivors are copied once, then
// promoted to the old generation); the old generation holds what lives
// (the start-up heap, caches filled in the warm-up, leaked objects) and
// the promoted garbage, until a mark-compact when it reaches its limit.
type v8 struct {
	base    float64 // MiB live once started
	warmUp  float64 // MiB the warm-up adds (caches, compiled code)
	warmFor float64 // seconds the warm-up lasts
	semi    float64 // MiB: the young generation's most (V8 grows it under load, to 16)
	survive float64 // share of young garbage alive at a scavenge (promoted later)
	factor  float64 // old-generation limit: live times this...
	minHead float64 // ...and at least this many MiB above live
	idle    float64 // MiB a second allocated without requests (timers, logging)
	loads   []load
}

// load is requests from From to To seconds after the worker's start, at
// Rate a second (Poisson), each allocating garbage (KiB, exponential
// around Garbage) and keeping Leak KiB for ever.
type load struct {
	From, To      float64
	Rate          float64
	Garbage, Leak float64
}

// heap is the state of a v8 model as it runs, in MiB.
type heap struct {
	m                   v8
	oldLive, oldGarbage float64
	young, youngLeak    float64 // allocated since the last scavenge, and of it kept
	survivors, survLeak float64 // copied once, promoted at the next scavenge
	limit, semi         float64
	allocated, lastGC   float64 // MiB since the last scavenge, and its time
	perSec              [8]float64
	reduced             bool
	compacted           []float64 // when mark-compacts ran, seconds
}

func (h *heap) used() float64 { return h.oldLive + h.oldGarbage + h.young }

func (h *heap) alloc(mib, kept float64) {
	h.young += mib
	h.youngLeak += kept
	h.allocated += mib
}

// scavenge: the last survivors are promoted; this time's are copied. V8
// shrinks the young generation when allocation is slow (under about
// 1 MB/s) and grows it, to its most, when fast.
func (h *heap) scavenge(s float64) {
	if h.allocated/(s-h.lastGC) < 0.95 {
		h.semi = 1
	} else {
		h.semi = min(h.m.semi, 2*h.semi)
	}
	h.allocated, h.lastGC = 0, s
	h.oldLive += h.survLeak
	h.oldGarbage += h.survivors - h.survLeak
	h.survLeak = h.youngLeak
	h.survivors = h.youngLeak + h.m.survive*(h.young-h.youngLeak)
	h.young, h.youngLeak = h.survivors, 0
	if h.oldLive+h.oldGarbage >= h.limit {
		h.markCompact(s)
	}
}

func (h *heap) markCompact(s float64) {
	h.compacted = append(h.compacted, s)
	h.oldGarbage = 0
	h.limit = max(h.oldLive*h.m.factor, h.oldLive+h.m.minHead)
}

// second is V8's memory reducer, once a second: when allocation has been
// slow for 8 s, one full collection (every generation, the young one
// shrunk) until it is fast again.
func (h *heap) second(s float64, allocated float64) {
	copy(h.perSec[:], h.perSec[1:])
	h.perSec[len(h.perSec)-1] = allocated
	var sum float64
	for _, a := range h.perSec {
		sum += a
	}
	if sum/float64(len(h.perSec)) >= 0.95 {
		h.reduced = false
		return
	}
	if h.reduced || s-h.lastGC < 8 {
		return
	}
	h.reduced = true
	h.oldLive += h.youngLeak + h.survLeak
	h.young, h.youngLeak, h.survivors, h.survLeak = 0, 0, 0, 0
	h.semi, h.allocated, h.lastGC = 1, 0, s
	h.markCompact(s)
}

// run is the worker's heap sampled every second for secs seconds from
// its start at t0 (the preload's timer drifts a few ms a tick), and when
// mark-compacts ran.
func (m v8) run(rng *rand.Rand, t0 time.Time, secs int) ([]Point, []time.Time) {
	const dt = 0.01
	h := &heap{m: m, oldLive: m.base, limit: m.base + m.minHead, semi: 1}
	ps := make([]Point, 0, secs+1)
	var warmed, next, drift, thisSec float64
	for step := 0; ; step++ {
		s := float64(step) * dt
		if s >= next {
			ps = append(ps, Point{Time: t0.Add(time.Duration((s + drift) * float64(time.Second))), Heap: int64(h.used() * mib)})
			if len(ps) > secs {
				var mcs []time.Time
				for _, c := range h.compacted {
					mcs = append(mcs, t0.Add(dur(c)))
				}
				return ps, mcs
			}
			h.second(s, thisSec)
			next, thisSec = next+1, 0
			drift += rng.Float64() * 0.003
		}
		before := h.allocated
		// The warm-up: caches fill (allocated young, kept), fast at first.
		if m.warmFor > 0 {
			w := m.warmUp * math.Min(1, (1-math.Exp(-3*s/m.warmFor))/(1-math.Exp(-3)))
			add := math.Max(0, w-warmed)
			warmed += add
			h.alloc(add, add)
		}
		h.alloc(m.idle*dt, 0)
		for _, l := range m.loads {
			if s < l.From || s >= l.To {
				continue
			}
			for n := poisson(rng, l.Rate*dt); n > 0; n-- {
				h.alloc((rng.ExpFloat64()*l.Garbage+l.Leak)/1024, l.Leak/1024)
			}
		}
		thisSec += h.allocated - before
		if h.young >= h.semi {
			h.scavenge(s)
		}
	}
}

// poisson draws a count of mean (small) the way Knuth does.
func poisson(rng *rand.Rand, mean float64) int {
	n, limit := 0, math.Exp(-mean)
	for p := rng.Float64(); p > limit; p *= rng.Float64() {
		n++
	}
	return n
}

// report is what status reads of a worker sampled every second: the
// preload keeps every 10th sample (the last 180) and the last 120.
func report(ps []Point) []Point {
	var coarse []Point
	for i := 0; i < len(ps); i += 10 {
		coarse = append(coarse, ps[i])
	}
	fine := ps[max(0, len(ps)-120):]
	var out []Point
	for _, p := range coarse[max(0, len(coarse)-180):] {
		if p.Time.Before(fine[0].Time) {
			out = append(out, p)
		}
	}
	return append(out, fine...)
}
