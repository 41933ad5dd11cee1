package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/tarball"
	"github.com/org/next-deploy/test/bench/benchkit"
)

// describe prints the artifacts and what changed from v1 to v2.
// describe prints the artifacts and what differs between them; it returns
// the files of v2 that are new or changed.
func describe(v1, v2 version) []release.FileEntry {
	old := map[string]release.FileEntry{}
	for _, e := range v1.art.FileList {
		old[e.Path] = e
	}
	var changed, added, removed int
	var changedBytes, addedBytes int64
	var differ []release.FileEntry
	for _, e := range v2.art.FileList {
		o, ok := old[e.Path]
		delete(old, e.Path)
		switch {
		case e.Type != release.TypeFile:
		case !ok:
			added++
			addedBytes += e.Size
			differ = append(differ, e)
		case o.Data != e.Data || o.Mode != e.Mode:
			changed++
			changedBytes += e.Size
			differ = append(differ, e)
		}
	}
	for _, e := range old {
		if e.Type == release.TypeFile {
			removed++
		}
	}
	for _, v := range []version{v1, v2} {
		fmt.Printf("artifact %s: %s, %d bytes (%.2f MiB); %d files, %.1f MiB unpacked\n", v.id, v.art.Path, v.art.Bytes, benchkit.MiB(v.art.Bytes), v.art.Files, benchkit.MiB(v.art.Unpacked))
	}
	fmt.Printf("v1 -> v2: %d files changed (%.1f KiB), %d added (%.1f KiB), %d removed; %d of %d files unchanged\n",
		changed, float64(changedBytes)/1024, added, float64(addedBytes)/1024, removed, v2.art.Files-changed-added, v2.art.Files)
	return differ
}

// report prints the medians side by side, with ratios to full and to
// rsync, and the targets.
func report(methods []method, samples [][]sample, artifact int64, label string) {
	med := make([]sample, len(samples))
	for i, ss := range samples {
		med[i] = sample{
			seconds: benchkit.Median(ss, func(s sample) float64 { return s.seconds }),
			bytes:   benchkit.Median(ss, func(s sample) float64 { return s.bytes }),
			app:     benchkit.Median(ss, func(s sample) float64 { return s.app }),
			files:   benchkit.Median(ss, func(s sample) float64 { return s.files }),
			linked:  benchkit.Median(ss, func(s sample) float64 { return s.linked }),
			copied:  benchkit.Median(ss, func(s sample) float64 { return s.copied }),
			derived: benchkit.Median(ss, func(s sample) float64 { return s.derived }),
			shared:  benchkit.Median(ss, func(s sample) float64 { return s.shared }),
			inspect: benchkit.Median(ss, func(s sample) float64 { return s.inspect }),
			sent:    benchkit.Median(ss, func(s sample) float64 { return s.sent }),
		}
	}
	full, delta, rsync := med[0], med[1], med[2]
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-30s\t", "method")
	fmt.Fprintln(tw, "TCP bytes/host\t% of artifact\t×full\t×rsync\ttool's count\twall\t×full\t×rsync\tfiles sent\tderived\tlinked\tcopied\tv2 files with links>1\t")
	for i, m := range med {
		derived, linked, copied := fmt.Sprintf("%.0f", m.derived), fmt.Sprintf("%.0f", m.linked), fmt.Sprintf("%.0f", m.copied)
		if i != 1 {
			derived, linked, copied = "-", "-", "-"
		}
		fmt.Fprintf(tw, "%-30s\t%.0f\t%.2f%%\t%.4f\t%.3f\t%.0f\t%.2fs\t%.2f\t%.2f\t%.0f\t%s\t%s\t%s\t%.0f\t\n", methods[i].name,
			m.bytes, 100*m.bytes/float64(artifact), m.bytes/full.bytes, m.bytes/rsync.bytes, m.app,
			m.seconds, m.seconds/full.seconds, m.seconds/rsync.seconds, m.files, derived, linked, copied, m.shared)
	}
	tw.Flush()
	fmt.Println("\nTCP bytes: every byte between the runner and the host, both ways, counted by a proxy in front of each host's sshd")
	fmt.Println("(SSH handshake, login, framing and every exec included; rsync's ssh goes through the same proxies).")
	fmt.Println("tool's count: ours Result.Bytes + Result.Received (what deliver counted inside SSH); rsync --stats sent + received.")
	fmt.Printf("ours' wall time includes deliver.Inspect (read, hash and list the artifact): median %.2fs (full), %.2fs (delta)\n", full.inspect, delta.inspect)
	fmt.Println("every delivered v2 tree (each method, each host, each run) equals the v2 artifact's file manifest.")
	pct := 100 * delta.bytes / float64(artifact)
	benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: "delta redeploy to " + label + ": TCP bytes per host, both ways, of the artifact",
		Ours: fmt.Sprintf("%.0f B (%.2f%%)", delta.bytes, pct), Alternative: fmt.Sprintf("artifact %d B; rsync %.0f B", artifact, rsync.bytes), Ratio: pct / 100, Max: 0.01})
	benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: "delta redeploy to " + label + ": wall, against our full delivery",
		Ours: fmt.Sprintf("%.2f s", delta.seconds), Alternative: fmt.Sprintf("full %.2f s", full.seconds), Ratio: delta.seconds / full.seconds, Max: 1.0})
	benchkit.PrintGoal(os.Stdout, benchkit.Goal{What: "delta redeploy to " + label + ": wall",
		Ours: fmt.Sprintf("%.2f s", delta.seconds), Alternative: fmt.Sprintf("rsync -a -c --link-dest %.2f s", rsync.seconds), Ratio: delta.seconds / rsync.seconds, Max: 0.8})
}

// modeOf is find's %m as permission bits.
func modeOf(m uint64) os.FileMode { return os.FileMode(m).Perm() }

// breakdown prints what sending every new or changed file would take (the
// delta's payload before the host derives files from the base), and the
// largest of them.
func breakdown(ctx context.Context, v2 version, differ []release.FileEntry) error {
	send := map[string]bool{}
	for _, e := range differ {
		send[e.Path] = true
	}
	in, err := os.Open(v2.art.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	var payload counter
	start := time.Now()
	if _, err := tarball.Subset(ctx, in, v2.art.Format, &payload, func(name string) bool { return send[name] }); err != nil {
		return err
	}
	fmt.Printf("every new or changed file, packed as a delta's payload: %d bytes (%d files, %s; made in %.2fs)\n",
		payload.n, len(send), v2.art.Format, time.Since(start).Seconds())
	slices.SortFunc(differ, func(a, b release.FileEntry) int { return cmp.Compare(b.Size, a.Size) })
	fmt.Print("largest changed files:")
	for _, e := range differ[:min(6, len(differ))] {
		fmt.Printf(" %s (%.1f KiB)", e.Path, float64(e.Size)/1024)
	}
	fmt.Println()
	return nil
}

type counter struct{ n int64 }

func (c *counter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return len(b), nil
}
