// Package benchkit holds what the benchmark commands under test/bench
// share: running as the one test of a testing.Main (the bed needs a
// *testing.T), running a command, fanning out over the bed's hosts.
package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/org/next-deploy/test/bed"
)

// Main parses the command's flags (define them first) and runs fn as the
// test name under testing.Main, which exits after the bed's cleanup; the
// -test.* flags are accepted too. An interrupt cancels ctx.
func Main(name string, fn func(ctx context.Context, t *testing.T) error) {
	testing.Init()
	flag.Parse()
	_ = flag.Set("test.v", "true") // the bed's log, and why it skipped
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	testing.Main(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{Name: name, F: func(t *testing.T) {
		defer stop()
		if err := fn(ctx, t); err != nil {
			t.Fatal(err)
		}
	}}}, nil, nil)
}

// Command runs name and returns its stdout; its stderr goes into the error.
func Command(ctx context.Context, name string, args ...string) (string, error) {
	var o, e strings.Builder
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		return o.String(), fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(e.String()))
	}
	return o.String(), nil
}

// PerHost runs fn on every host of the bed at once.
func PerHost[T any](b *bed.Bed, fn func(h *bed.Host) (T, error)) ([]T, error) {
	vs, errs := make([]T, len(b.Hosts)), make([]error, len(b.Hosts))
	var wg sync.WaitGroup
	for i, h := range b.Hosts {
		wg.Go(func() {
			vs[i], errs[i] = fn(h)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", h.Name(), errs[i])
			}
		})
	}
	wg.Wait()
	return vs, errors.Join(errs...)
}

// RepoRoot is the next-deploy module's directory.
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run it inside the next-deploy module")
	}
	return filepath.Dir(gomod), nil
}

// CPUSeconds is the user and system time of this process and of its
// children that were waited for (tar, scp, ssh, rsync): what a method
// costs the runner, which swings much less than wall time on a shared
// machine.
func CPUSeconds() float64 {
	var sum float64
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			panic(err)
		}
		sum += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return sum
}

// Median is the median of f over xs (the upper one of an even count).
func Median[T any](xs []T, f func(T) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// MiB is n bytes in MiB.
func MiB(n int64) float64 { return float64(n) / (1 << 20) }

// Goal is one target of an issue's "must show", as a benchmark measured
// it: what, our number, the alternative's, their ratio and the target.
// test/bench/report.sh gathers every command's goals into the table of
// docs/benchmarks.md, so the table is what the commands printed.
type Goal struct {
	What        string
	Ours        string
	Alternative string
	// Ratio is ours over the alternative; Max the highest that meets
	// the target (or, when Min is set, the lowest).
	Ratio float64
	Max   float64
	Min   bool
	// Count: Ratio and Max are counts (failed requests), not ratios.
	Count bool
}

// Met says whether the ratio meets the target.
func (g Goal) Met() bool {
	if g.Min {
		return g.Ratio >= g.Max
	}
	return g.Ratio <= g.Max
}

// PrintGoal prints g as one line that report.sh picks up:
// "GOAL<TAB>what<TAB>ours<TAB>alternative<TAB>ratio<TAB>target<TAB>met".
func PrintGoal(w io.Writer, g Goal) {
	op, met := "<=", "yes"
	if g.Min {
		op = ">="
	}
	if !g.Met() {
		met = "NO"
	}
	if g.Count {
		fmt.Fprintf(w, "GOAL\t%s\t%s\t%s\t%.0f\t%s %.0f\t%s\n", g.What, g.Ours, g.Alternative, g.Ratio, op, g.Max, met)
		return
	}
	fmt.Fprintf(w, "GOAL\t%s\t%s\t%s\t%.3gx\t%s %.2gx\t%s\n", g.What, g.Ours, g.Alternative, g.Ratio, op, g.Max, met)
}
