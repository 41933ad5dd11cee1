package memtrend

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const mib = 1 << 20

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// makeSeries makes n samples a second apart from f(second).
func makeSeries(n int, f func(s float64) float64) []Point {
	ps := make([]Point, n)
	for i := range ps {
		ps[i] = Point{Time: t0.Add(time.Duration(i) * time.Second), Heap: int64(f(float64(i)))}
	}
	return ps
}

// The shapes a heap takes, each judged as a worker whose first sample is
// its start (zero started), unless it started minutes before.
func TestAnalyze(t *testing.T) {
	noise := rand.New(rand.NewPCG(1, 2))
	jitter := func() float64 { return (noise.Float64() - 0.5) * 2 * mib }
	old := t0.Add(-5 * time.Minute)
	for _, tc := range []struct {
		name    string
		points  []Point
		started time.Time
		verdict string
	}{
		{"flat", makeSeries(120, func(float64) float64 { return 40*mib + jitter() }), time.Time{}, Steady},
		// Fills caches for 10 s (+30 MiB), then flat.
		{"warm-up then flat", makeSeries(120, func(s float64) float64 { return 20*mib + math.Min(s, 10)*3*mib + jitter() }), time.Time{}, WarmUp},
		// +6 MiB a minute, with noise.
		{"steady growth", makeSeries(120, func(s float64) float64 { return 30*mib + s*0.1*mib + jitter() }), time.Time{}, Leak},
		// GC sawtooth: +4 MiB/s for 5 s, collected back, again and again.
		{"gc sawtooth", makeSeries(90, func(s float64) float64 { return 20*mib + math.Mod(s, 6)*4*mib }), time.Time{}, Steady},
		// The same sawtooth on a baseline growing 12 MiB a minute.
		{"sawtooth on a growing baseline", makeSeries(90, func(s float64) float64 { return 20*mib + math.Mod(s, 6)*4*mib + s*0.2*mib }), time.Time{}, Leak},
		// Grows, but under MinRate (0.5 MiB a minute).
		{"slow growth", makeSeries(120, func(s float64) float64 { return 30*mib + s*mib/120 }), time.Time{}, Steady},
		{"freed", makeSeries(120, func(s float64) float64 { return 80*mib - s*0.5*mib }), time.Time{}, Steady},
		// Seen on the bed: a 7 MiB heap under alloc-and-free load watched
		// for 20 s; the noise fits a slope of +3 MiB/min, the floor stays.
		{"noise of a small heap", mibSeries(6.5, 6.6, 6.4, 6.7, 6.5, 6.2, 6.4, 6.3, 6.5, 6.4, 6.6, 6.5, 6.8, 6.6, 6.7, 6.9, 6.7, 6.8, 7.0, 6.5), old, Steady},
		{"too few", makeSeries(4, func(s float64) float64 { return s * 10 * mib }), old, TooShort},
		// Issue 16 item 5: status 19 s after activate called a warm-up a
		// leak. A worker younger than MinAge gets no verdict, whatever its
		// heap does.
		{"19 s old, growing", makeSeries(20, func(s float64) float64 { return 30*mib + s*2*mib }), time.Time{}, TooYoung},
		{"59 s old, growing", makeSeries(60, func(s float64) float64 { return 30*mib + s*mib }), t0.Add(-time.Second / 2), TooYoung},
		// The age counts from pm2's start, not the first sample kept.
		{"old worker, a minute of samples", makeSeries(60, func(s float64) float64 { return 30*mib + s*0.2*mib + jitter() }), old, Leak},
		// Issue 16 item 5: a leak that began 40 s ago, after minutes of a
		// flat heap (10 s samples, then 1 s), was missed: the lowest
		// sample of the newest third of the samples (by count) was from
		// before the leak.
		{"leak 40 s into a load, after 5 flat minutes", statusReport(300, 40, 0.3*mib), time.Time{}, Leak},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Analyze(tc.points, tc.started, DefaultRules)
			if got.Verdict != tc.verdict {
				t.Errorf("verdict %q (%s, rising %v, %d points), want %q", got.Verdict, got, got.Rising, got.Points, tc.verdict)
			}
			if got.Leaking() != (tc.verdict == Leak) || got.Rising != (tc.verdict == Leak) {
				t.Errorf("Leaking() = %v, Rising %v for verdict %q", got.Leaking(), got.Rising, got.Verdict)
			}
		})
	}
}

// statusReport is what status reads of a worker secs old whose heap was
// flat (with a little noise) until leak seconds ago, then grew by perSec:
// every 10th sample, then the last 120.
func statusReport(secs, leak int, perSec float64) []Point {
	noise := rand.New(rand.NewPCG(3, 4))
	return report(makeSeries(secs+1, func(s float64) float64 {
		return 60*mib + math.Max(0, s-float64(secs-leak))*perSec + noise.Float64()*0.3*mib
	}))
}

// The slope is bytes a minute, of the floor, over the growth judged: all
// of it after the warm-up when it all grows.
func TestAnalyzeSlope(t *testing.T) {
	// 30 s of warm-up at +1 MiB/s, then exactly +3 MiB a minute.
	got := Analyze(makeSeries(100, func(s float64) float64 {
		if s < 30 {
			return s * mib
		}
		return 50*mib + (s-30)*mib/20
	}), time.Time{}, DefaultRules)
	if math.Abs(got.PerMinute-3*mib) > 1 || got.Points != 70 || got.Seconds != 69 || got.Age != 99 {
		t.Errorf("slope %.0f B/min over %d points, %.0f s, age %.0f s; want %d B/min over 70 points, 69 s, age 99 s", got.PerMinute, got.Points, got.Seconds, got.Age, 3*mib)
	}
	if got.From != 50*mib || got.To != 50*mib+69*mib/20 {
		t.Errorf("from %d to %d, want the heap at 30 s and 99 s", got.From, got.To)
	}
	if got.String() != "+3.0 MiB/min, leak" {
		t.Errorf("String() = %q", got.String())
	}
}

func TestTrendString(t *testing.T) {
	for _, tc := range []struct {
		t    Trend
		want string
	}{
		{Trend{Verdict: TooYoung, Age: 19.4}, "too young to judge (19s)"},
		{Trend{Verdict: TooShort, Age: 600}, "too few samples"},
		{Trend{Verdict: WarmUp, PerMinute: -0.04 * mib}, "-0.0 MiB/min, warm-up"},
	} {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("%+v: String() = %q, want %q", tc.t, got, tc.want)
		}
	}
}

// mibSeries is samples a second apart, in MiB.
func mibSeries(v ...float64) []Point {
	return makeSeries(len(v), func(s float64) float64 { return v[int(s)] * mib })
}
