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
type Rules struct {
	// WarmUp is the share of the window, from its start, left out: a
	// fresh worker fills its caches and compiles its code there.
	WarmUp float64
	// MinRate is the growth, in bytes per minute, below which nothing is
	// called a leak.
	MinRate float64
	// MinPoints is the fewest samples, after the warm-up, to judge.
	MinPoints int
	// MinRise is the least the heap's floor must rise, in bytes, across
	// the judged part: a short watch sees only a fast leak.
	MinRise int64
}

// DefaultRules: the first quarter is warm-up; a leak grows 1 MiB a minute
// or more, and its floor at least 1 MiB over the window.
var DefaultRules = Rules{WarmUp: 0.25, MinRate: 1 << 20, MinPoints: 5, MinRise: 1 << 20}

// Verdicts.
const (
	Leak     = "leak"    // grows steadily after the warm-up
	Steady   = "steady"  // no steady growth after the warm-up
	WarmUp   = "warm-up" // grew in the warm-up, then no more
	TooShort = "too few samples"
)

// Trend is what a worker's heap did over a window.
type Trend struct {
	// Points is the number of samples judged (after the warm-up), over
	// Seconds.
	Points  int     `json:"points"`
	Seconds float64 `json:"seconds"`
	// From and To are the heap at the start and end of the judged part.
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// PerMinute is the least-squares slope of the heap, bytes a minute.
	PerMinute float64 `json:"bytes_per_minute"`
	// Rising is true when the floor of the heap (its lowest samples, what
	// is left after garbage collection) rises with the slope: the last
	// third's lowest sample is above the first third's by at least half
	// what the slope predicts between them, and by MinRise. A GC
	// sawtooth, whatever its slope over the window, keeps its floor; the
	// noise of a small heap over a short window moves it by less than
	// MinRise.
	Rising  bool   `json:"rising"`
	Verdict string `json:"verdict"`
}

// Leaking reports whether the trend looks like a leak.
func (t Trend) Leaking() bool { return t.Verdict == Leak }

// String says it briefly: "+3.2 MiB/min, leak".
func (t Trend) String() string {
	if t.Verdict == TooShort {
		return TooShort
	}
	return fmt.Sprintf("%s/min, %s", signedMiB(t.PerMinute), t.Verdict)
}

func signedMiB(b float64) string {
	return fmt.Sprintf("%+.1f MiB", b/(1<<20))
}

// warmUpGrowth is how much the heap's floor must rise during the warm-up
// to say so.
const warmUpGrowth = 1 << 20

// Analyze judges points (in time order): after the warm-up part of the
// window, a leak is a slope of at least MinRate that is also Rising.
func Analyze(points []Point, r Rules) Trend {
	if len(points) < 2 {
		return Trend{Points: len(points), Verdict: TooShort}
	}
	start, end := points[0].Time, points[len(points)-1].Time
	cut := start.Add(time.Duration(float64(end.Sub(start)) * r.WarmUp))
	var judged []Point
	for _, p := range points {
		if !p.Time.Before(cut) {
			judged = append(judged, p)
		}
	}
	t := Trend{Points: len(judged), Verdict: TooShort}
	if len(judged) < max(r.MinPoints, 3) {
		return t
	}
	t.Seconds = judged[len(judged)-1].Time.Sub(judged[0].Time).Seconds()
	t.From, t.To = judged[0].Heap, judged[len(judged)-1].Heap
	t.PerMinute = slope(judged) * 60
	third := len(judged) / 3
	first, last := judged[:third], judged[len(judged)-third:]
	between := mid(last).Sub(mid(first)).Minutes()
	rise := float64(minHeap(last) - minHeap(first))
	t.Rising = rise >= float64(r.MinRise) && rise >= 0.5*t.PerMinute*between
	switch {
	case t.PerMinute >= r.MinRate && t.Rising:
		t.Verdict = Leak
	case len(judged) < len(points) && minHeap(judged)-minHeap(points[:len(points)-len(judged)]) >= warmUpGrowth:
		t.Verdict = WarmUp
	default:
		t.Verdict = Steady
	}
	return t
}

// slope is the least-squares slope of heap over time, bytes a second.
func slope(ps []Point) float64 {
	t0 := ps[0].Time
	var n, sx, sy, sxx, sxy float64
	for _, p := range ps {
		x, y := p.Time.Sub(t0).Seconds(), float64(p.Heap)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func minHeap(ps []Point) int64 {
	m := ps[0].Heap
	for _, p := range ps {
		m = min(m, p.Heap)
	}
	return m
}

// mid is the middle of the time ps spans.
func mid(ps []Point) time.Time {
	return ps[0].Time.Add(ps[len(ps)-1].Time.Sub(ps[0].Time) / 2)
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
