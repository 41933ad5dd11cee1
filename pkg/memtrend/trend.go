// Package memtrend owns the verdict on a worker's memory: the trend of its
// heap over time, a leak or warm-up that settles. Status and the watch
// after a switch (pkg/heap) both judge with it. The samples come from the
// drain preload's memory report (pm2.Memory).
package memtrend

import (
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
)

// Point is the heap in use at a time.
type Point struct {
	Time time.Time
	Heap int64
}

// Rules decide when growth is a leak.
//
// The heap of a Node worker is a sawtooth: the young generation fills and
// is scavenged every few MiB, promoted garbage fills the old generation
// until a mark-compact. A leak is the floor of that sawtooth (the lowest
// heap of each part of the time, what is left after collection) rising
// steadily: over a stretch of MinWindow or more, the newest one, its
// slope is MinRate and MinT standard errors or more; it rises from each
// third of the stretch to the next, by more than MinRise and the jitter
// of sampling a sawtooth once a second; and a collection in the stretch
// was followed by another in its newest third (else that third is a ramp
// of garbage not yet collected). Growth after earlier samples must be
// news: its newest floor above the highest floor before by half its rise
// or more, or twice as fast as any growth before (a ramp of garbage rises
// as fast as the earlier ones, to where they were collected).
//
// What no rule on the heap alone can tell: old-generation garbage growing
// MinRate or faster with no mark-compact yet in the samples looks like a
// leak (promoted garbage, or garbage V8 allocates in the old generation
// at a site whose objects mostly lived, as a cache's do); and a
// mark-compact that collects as much old garbage as a new leak added
// hides it until the floor has risen again.
type Rules struct {
	// MinAge is the warm-up window: a worker younger than this gets no
	// verdict (TooYoung); it is still filling its caches and compiling.
	MinAge time.Duration
	// WarmUp is the share of the worker's age, from its start, left out,
	// and MinWarmUp the least left out.
	WarmUp    float64
	MinWarmUp time.Duration
	// MinRate is the growth of the floor, in bytes per minute, below
	// which nothing is called a leak.
	MinRate float64
	// MinPoints is the fewest samples, after the warm-up, to judge.
	MinPoints int
	// MinRise is the least the floor must rise, in bytes, across the
	// growth judged: the noise of a small heap moves it by less.
	MinRise int64
	// MinWindow is the shortest growth judged (when the samples after the
	// warm-up span more).
	MinWindow time.Duration
	// MinT is how many standard errors the floor's slope must be above
	// zero: growth, not noise.
	MinT float64
}

// DefaultRules: no verdict before a minute; a quarter of the worker's age
// (at least 30 s) is warm-up; a leak's floor grows 1 MiB a minute or more,
// and at least 1 MiB, steadily over 30 s or more.
var DefaultRules = Rules{
	MinAge: time.Minute, WarmUp: 0.25, MinWarmUp: 30 * time.Second,
	MinRate: 1 << 20, MinPoints: 5, MinRise: 1 << 20, MinWindow: 30 * time.Second, MinT: 3,
}

// Verdicts.
const (
	Leak     = "leak"    // grows steadily after the warm-up
	Steady   = "steady"  // no steady growth after the warm-up
	WarmUp   = "warm-up" // grew in the warm-up, then no more
	TooShort = "too few samples"
	TooYoung = "too young" // younger than Rules.MinAge
)

// Trend is what a worker's heap did over a window.
type Trend struct {
	// Age is the worker's age at its newest sample, in seconds.
	Age float64 `json:"age_seconds"`
	// Points is the number of samples judged over Seconds: the growth
	// called a leak, else everything after the warm-up.
	Points  int     `json:"points"`
	Seconds float64 `json:"seconds"`
	// From and To are the heap at the start and end of the judged part.
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// PerMinute is the growth, bytes a minute: of the floor for a leak,
	// else the least-squares slope of the heap.
	PerMinute float64 `json:"bytes_per_minute"`
	// Rising is true when the floor of the heap (its lowest samples, what
	// is left after garbage collection) rises steadily: a leak.
	Rising  bool   `json:"rising"`
	Verdict string `json:"verdict"`
}

// Leaking reports whether the trend looks like a leak.
func (t Trend) Leaking() bool { return t.Verdict == Leak }

// String says it briefly: "+3.2 MiB/min, leak", "too young to judge (19s)".
func (t Trend) String() string {
	switch t.Verdict {
	case TooShort:
		return TooShort
	case TooYoung:
		return fmt.Sprintf("too young to judge (%s)", time.Duration(t.Age*float64(time.Second)).Round(time.Second))
	}
	return fmt.Sprintf("%s/min, %s", signedMiB(t.PerMinute), t.Verdict)
}

func signedMiB(b float64) string {
	return fmt.Sprintf("%+.1f MiB", b/(1<<20))
}

// warmUpGrowth is how much the heap's floor must rise during the warm-up
// to say so.
const warmUpGrowth = 1 << 20

// Analyze judges points (in time order) of a worker started at started
// (zero, or after the first point: the first point's time). A worker
// younger than MinAge is TooYoung: its warm-up may look like anything.
// After the warm-up, a leak is a newest stretch of MinWindow or more
// whose floor grows steadily (see Rules).
func Analyze(points []Point, started time.Time, r Rules) Trend {
	if len(points) < 2 {
		return Trend{Points: len(points), Verdict: TooShort}
	}
	if started.IsZero() || started.After(points[0].Time) {
		started = points[0].Time
	}
	age := points[len(points)-1].Time.Sub(started)
	t := Trend{Age: age.Seconds(), Points: len(points), Verdict: TooYoung}
	if age < r.MinAge {
		return t
	}
	cut := started.Add(max(time.Duration(float64(age)*r.WarmUp), r.MinWarmUp))
	i := 0
	for i < len(points) && points[i].Time.Before(cut) {
		i++
	}
	warm, judged := points[:i], points[i:]
	t.Points, t.Verdict = len(judged), TooShort
	if len(judged) < max(r.MinPoints, 3) {
		return t
	}
	if w, g, ok := leaking(judged, r); ok {
		t.describe(w)
		t.PerMinute, t.Rising, t.Verdict = g.perSec*60, true, Leak
		return t
	}
	t.describe(judged)
	t.PerMinute, t.Verdict = slope(judged)*60, Steady
	if len(warm) > 0 && minHeap(judged)-minHeap(warm) >= warmUpGrowth {
		t.Verdict = WarmUp
	}
	return t
}

// describe sets the part of t that says which samples were judged.
func (t *Trend) describe(ps []Point) {
	t.Points, t.Seconds = len(ps), ps[len(ps)-1].Time.Sub(ps[0].Time).Seconds()
	t.From, t.To = ps[0].Heap, ps[len(ps)-1].Heap
}

func minHeap(ps []Point) int64 {
	m := ps[0].Heap
	for _, p := range ps {
		m = min(m, p.Heap)
	}
	return m
}

// Points are the heap samples of a worker's memory report from since on.
func Points(m *pm2.Memory, since time.Time) []Point {
	if m == nil {
		return nil
	}
	var ps []Point
	for _, s := range m.Samples {
		if !s.Time.Before(since) {
			ps = append(ps, Point{Time: s.Time, Heap: s.HeapUsed})
		}
	}
	return ps
}
