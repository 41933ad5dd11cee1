package memtrend

import (
	"math"
	"slices"
	"time"
)

// buckets is the most time buckets a stretch's floor is measured in.
const buckets = 8

// growth is how the floor of a stretch of samples grows.
type growth struct {
	// perSec is the least-squares slope of the bucket floors, bytes a
	// second, and se its standard error; newest is the slope of the
	// floors of the newest two thirds.
	perSec, se, newest float64
	// seconds is the stretch's length; thirds are the lowest samples of
	// its first, middle and last third in time.
	seconds float64
	thirds  [3]Point
	// jitter is the median rise from a sample to the next: a floor
	// measured on samples is off by up to that much (a sawtooth of a few
	// seconds seen once a second drifts through its phases).
	jitter int64
	// uncollected is the time since the last collection that took back
	// half what the floor rose (a fall of the heap from a sample to the
	// next, of MinRise at least), seconds; 0 with fewer than two.
	uncollected float64
	ok          bool // enough buckets to fit
}

// measure finds the floor of ps: the lowest sample of each of up to
// buckets equal parts of its time (a bucket spans at least a scavenge
// when the young generation is big), and its slope.
func measure(ps []Point, r Rules) growth {
	g := growth{seconds: ps[len(ps)-1].Time.Sub(ps[0].Time).Seconds()}
	if g.seconds <= 0 {
		return g
	}
	for k := range g.thirds {
		b := part(ps, g.seconds, float64(k)/3, float64(k+1)/3)
		if len(b) == 0 {
			return g
		}
		g.thirds[k] = lowest(b)
	}
	g.jitter, g.uncollected = jitter(ps, max(r.MinRise, g.rise()/2))
	n := min(buckets, len(ps)/2)
	var floors []Point
	for k := range n {
		if b := part(ps, g.seconds, float64(k)/float64(n), float64(k+1)/float64(n)); len(b) > 0 {
			floors = append(floors, lowest(b))
		}
	}
	if len(floors) < 4 {
		return g
	}
	g.perSec, g.se = fit(floors)
	k := 0
	for k < len(floors) && floors[k].Time.Sub(ps[0].Time).Seconds() < g.seconds/3 {
		k++
	}
	if len(floors)-k < 3 {
		return g
	}
	g.newest, _ = fit(floors[k:])
	g.ok = true
	return g
}

// rise is how much the floor rose from the first third to the last.
func (g growth) rise() int64 { return g.thirds[2].Heap - g.thirds[0].Heap }

// rate is how fast the floor rose from third k-1's lowest sample to
// third k's, bytes a second.
func (g growth) rate(k int) float64 {
	a, b := g.thirds[k-1], g.thirds[k]
	return float64(b.Heap-a.Heap) / b.Time.Sub(a.Time).Seconds()
}

// steady reports whether g is a leak's growth under r: the floor's slope
// is at least MinRate and MinT standard errors; over the newest two
// thirds it still grows at least half as fast, and MinRate (not a
// warm-up that settled); when the heap was collected in the stretch, it
// was in the newest third too (its floor is not a ramp of garbage not
// yet collected); the floor rises at MinRate from each third's lowest
// sample to the next's (not a sawtooth, nor a jump at the end), by
// MinRise and the jitter in all (two floors are off by up to the jitter
// each way).
func (g growth) steady(r Rules) bool {
	b, minRate := g.perSec, r.MinRate/60
	return g.ok && b >= minRate && b*g.seconds >= float64(r.MinRise) && b >= r.MinT*g.se &&
		g.newest >= max(minRate, b/2) && g.uncollected <= g.seconds/3 &&
		g.rate(1) >= minRate && g.rate(2) >= minRate && g.rise() >= r.MinRise+g.jitter
}

// jitter is the median rise from a sample to the next, and the time
// since the last fall of drop or more (0 with fewer than two).
func jitter(ps []Point, drop int64) (int64, float64) {
	var rises []int64
	var last time.Time
	falls := 0
	for i := 1; i < len(ps); i++ {
		d := ps[i].Heap - ps[i-1].Heap
		if d > 0 {
			rises = append(rises, d)
		}
		if d <= -drop {
			falls++
			last = ps[i].Time
		}
	}
	var j int64
	if len(rises) > 0 {
		slices.Sort(rises)
		j = rises[len(rises)/2]
	}
	if falls < 2 {
		return j, 0
	}
	return j, ps[len(ps)-1].Time.Sub(last).Seconds()
}

// part is the samples of ps from share from to share to of its seconds
// (the last part ends with the last sample).
func part(ps []Point, seconds, from, to float64) []Point {
	t0 := ps[0].Time
	lo, hi := t0.Add(dur(seconds*from)), t0.Add(dur(seconds*to))
	var out []Point
	for _, p := range ps {
		if !p.Time.Before(lo) && (p.Time.Before(hi) || to >= 1) {
			out = append(out, p)
		}
	}
	return out
}

func dur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func lowest(ps []Point) Point {
	m := ps[0]
	for _, p := range ps {
		if p.Heap < m.Heap {
			m = p
		}
	}
	return m
}

// leaking looks for a leak in ps (after the warm-up): a newest stretch,
// of any length from MinWindow to all of ps, whose floor grows steadily,
// and is news when samples came before it. It returns the longest such
// stretch and its growth.
func leaking(ps []Point, r Rules) ([]Point, growth, bool) {
	end := ps[len(ps)-1].Time
	ds := windows(end.Sub(ps[0].Time), r.MinWindow)
	for k := len(ds) - 1; k >= 0; k-- {
		i := 0
		for ps[i].Time.Before(end.Add(-ds[k])) {
			i++
		}
		if len(ps)-i < max(r.MinPoints, 4) {
			continue
		}
		if g := measure(ps[i:], r); g.steady(r) && (i == 0 || news(ps[:i], g, ds[k], r)) {
			return ps[i:], g, true
		}
	}
	return nil, growth{}, false
}

// news reports whether growth g over d is not the sawtooth seen in the
// samples before it: its newest floor is above the highest floor they
// held by half its rise at least, or it grows twice as fast as they ever
// did over d or less. A garbage ramp rises as fast as the ones before
// it, to where they were collected.
func news(before []Point, g growth, d time.Duration, r Rules) bool {
	if g.thirds[2].Heap-highWater(before, r.MinWindow) >= g.rise()/2 {
		return true
	}
	fastest := 0.0
	for _, l := range windows(d, r.MinWindow) {
		fastest = max(fastest, fastestOver(before, l, r))
	}
	return g.perSec >= 2*fastest
}

// fastestOver is the fastest the floor of ps grew over a stretch of d
// (of buckets samples at least), a quarter of a stretch apart.
func fastestOver(ps []Point, d time.Duration, r Rules) float64 {
	fastest := 0.0
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && (j-i < buckets || ps[j].Time.Sub(ps[i].Time) < d) {
			j++
		}
		if j-i < buckets {
			break
		}
		if h := measure(ps[i:j], r); h.ok {
			fastest = max(fastest, h.perSec)
		}
		quarter, next := ps[i].Time.Add(ps[j-1].Time.Sub(ps[i].Time)/4), i+1
		for next < j && ps[next].Time.Before(quarter) {
			next++
		}
		i = next
	}
	return fastest
}

// windows are the lengths of stretches judged: from shortest, half as
// long again each time, and all of span last.
func windows(span, shortest time.Duration) []time.Duration {
	var out []time.Duration
	for d := shortest; d < span; d = d * 3 / 2 {
		out = append(out, d)
	}
	return append(out, span)
}

// highWater is the highest floor of ps: the most of the lowest heap over
// any width (or all of ps, when shorter).
func highWater(ps []Point, width time.Duration) int64 {
	high := minHeap(ps)
	for i := range ps {
		low, j := ps[i].Heap, i
		for ; j < len(ps) && ps[j].Time.Sub(ps[i].Time) <= width; j++ {
			low = min(low, ps[j].Heap)
		}
		if j == len(ps) && ps[j-1].Time.Sub(ps[i].Time) < width {
			break
		}
		high = max(high, low)
	}
	return high
}

// fit is the least-squares slope of heap over time, bytes a second, and
// its standard error.
func fit(ps []Point) (slope, se float64) {
	t0 := ps[0].Time
	n := float64(len(ps))
	var mx, my float64
	for _, p := range ps {
		mx += p.Time.Sub(t0).Seconds() / n
		my += float64(p.Heap) / n
	}
	var sxx, sxy float64
	for _, p := range ps {
		dx, dy := p.Time.Sub(t0).Seconds()-mx, float64(p.Heap)-my
		sxx += dx * dx
		sxy += dx * dy
	}
	if sxx == 0 {
		return 0, math.Inf(1)
	}
	slope = sxy / sxx
	if len(ps) < 3 {
		return slope, math.Inf(1)
	}
	var ss float64
	for _, p := range ps {
		res := float64(p.Heap) - my - slope*(p.Time.Sub(t0).Seconds()-mx)
		ss += res * res
	}
	return slope, math.Sqrt(ss/(n-2)) / math.Sqrt(sxx)
}

// slope is the least-squares slope of heap over time, bytes a second.
func slope(ps []Point) float64 {
	s, _ := fit(ps)
	return s
}
