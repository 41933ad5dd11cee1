package memtrend

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const mib = 1 << 20

// makeSeries makes n samples a second apart from f(second).
func makeSeries(n int, f func(s float64) float64) []Point {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ps := make([]Point, n)
	for i := range ps {
		ps[i] = Point{Time: t0.Add(time.Duration(i) * time.Second), Heap: int64(f(float64(i)))}
	}
	return ps
}

func TestAnalyze(t *testing.T) {
	noise := rand.New(rand.NewPCG(1, 2))
	jitter := func() float64 { return (noise.Float64() - 0.5) * 2 * mib }
	for _, tc := range []struct {
		name    string
		points  []Point
		verdict string
	}{
		{"flat", makeSeries(60, func(float64) float64 { return 40*mib + jitter() }), Steady},
		// Fills caches for 10 s (+30 MiB), then flat.
		{"warm-up then flat", makeSeries(60, func(s float64) float64 { return 20*mib + math.Min(s, 10)*3*mib + jitter() }), WarmUp},
		// +6 MiB a minute, with noise.
		{"steady growth", makeSeries(60, func(s float64) float64 { return 30*mib + s*0.1*mib + jitter() }), Leak},
		// GC sawtooth: +4 MiB/s for 5 s, collected back, again and again.
		{"gc sawtooth", makeSeries(90, func(s float64) float64 { return 20*mib + math.Mod(s, 6)*4*mib }), Steady},
		// The same sawtooth on a baseline growing 12 MiB a minute.
		{"sawtooth on a growing baseline", makeSeries(90, func(s float64) float64 { return 20*mib + math.Mod(s, 6)*4*mib + s*0.2*mib }), Leak},
		// Grows, but under MinRate (0.5 MiB a minute).
		{"slow growth", makeSeries(60, func(s float64) float64 { return 30*mib + s*mib/120 }), Steady},
		{"freed", makeSeries(60, func(s float64) float64 { return 80*mib - s*0.5*mib }), Steady},
		// Seen on the bed: a 7 MiB heap under alloc-and-free load for 15 s;
		// the noise fits a slope of +3 MiB/min, the floor stays.
		{"noise of a small heap", mibSeries(6.5, 6.6, 6.4, 6.7, 6.5, 6.2, 6.4, 6.3, 6.5, 6.4, 6.6, 6.5, 6.8, 6.6, 6.7, 6.9, 6.7, 6.8, 7.0, 6.5), Steady},
		{"too few", makeSeries(4, func(s float64) float64 { return s * 10 * mib }), TooShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Analyze(tc.points, DefaultRules)
			if got.Verdict != tc.verdict {
				t.Errorf("verdict %q (%s, rising %v, %d points), want %q", got.Verdict, got, got.Rising, got.Points, tc.verdict)
			}
			if got.Leaking() != (tc.verdict == Leak) {
				t.Errorf("Leaking() = %v for verdict %q", got.Leaking(), got.Verdict)
			}
		})
	}
}

// The slope is bytes a minute, measured after the warm-up.
func TestAnalyzeSlope(t *testing.T) {
	// 10 s of warm-up at +5 MiB/s, then exactly +3 MiB a minute.
	got := Analyze(makeSeries(41, func(s float64) float64 {
		if s < 10 {
			return s * 5 * mib
		}
		return 50*mib + (s-10)*mib/20
	}), DefaultRules)
	if math.Abs(got.PerMinute-3*mib) > 1 || got.Points != 31 || got.Seconds != 30 {
		t.Errorf("slope %.0f B/min over %d points, %.0f s; want %d B/min over 31 points, 30 s", got.PerMinute, got.Points, got.Seconds, 3*mib)
	}
	if got.String() != "+3.0 MiB/min, leak" {
		t.Errorf("String() = %q", got.String())
	}
}

// mibSeries is samples a second apart, in MiB; the first quarter is the
// warm-up.
func mibSeries(v ...float64) []Point {
	return makeSeries(len(v), func(s float64) float64 { return v[int(s)] * mib })
}
