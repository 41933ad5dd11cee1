package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/release"
)

// describe prints the artifacts and what changed from v1 to v2.
func describe(v1, v2 version) {
	old := map[string]release.FileEntry{}
	for _, e := range v1.art.FileList {
		old[e.Path] = e
	}
	var changed, added, removed int
	var changedBytes, addedBytes int64
	for _, e := range v2.art.FileList {
		o, ok := old[e.Path]
		delete(old, e.Path)
		switch {
		case e.Type != release.TypeFile:
		case !ok:
			added++
			addedBytes += e.Size
		case o.Data != e.Data || o.Mode != e.Mode:
			changed++
			changedBytes += e.Size
		}
	}
	for _, e := range old {
		if e.Type == release.TypeFile {
			removed++
		}
	}
	for _, v := range []version{v1, v2} {
		fmt.Printf("artifact %s: %s, %d bytes (%.2f MiB); %d files, %.1f MiB unpacked\n", v.id, v.art.Path, v.art.Bytes, mib(v.art.Bytes), v.art.Files, mib(v.art.Unpacked))
	}
	fmt.Printf("v1 -> v2: %d files changed (%.1f KiB), %d added (%.1f KiB), %d removed; %d of %d files unchanged\n",
		changed, float64(changedBytes)/1024, added, float64(addedBytes)/1024, removed, v2.art.Files-changed-added, v2.art.Files)
}

// report prints the medians side by side, with ratios to full and to
// rsync, and the targets.
func report(methods []method, samples [][]sample, artifact int64) {
	med := make([]sample, len(samples))
	for i, ss := range samples {
		med[i] = sample{
			seconds: median(ss, func(s sample) float64 { return s.seconds }),
			bytes:   median(ss, func(s sample) float64 { return s.bytes }),
			files:   median(ss, func(s sample) float64 { return s.files }),
			linked:  median(ss, func(s sample) float64 { return s.linked }),
			copied:  median(ss, func(s sample) float64 { return s.copied }),
			derived: median(ss, func(s sample) float64 { return s.derived }),
			shared:  median(ss, func(s sample) float64 { return s.shared }),
			inspect: median(ss, func(s sample) float64 { return s.inspect }),
			sent:    median(ss, func(s sample) float64 { return s.sent }),
		}
	}
	full, delta, rsync := med[0], med[1], med[2]
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-30s\t", "method")
	fmt.Fprintln(tw, "wire bytes/host\t% of artifact\t×full\t×rsync\twall\t×full\t×rsync\tfiles sent\tderived\tlinked\tcopied\tv2 files with links>1\t")
	for i, m := range med {
		derived, linked, copied := fmt.Sprintf("%.0f", m.derived), fmt.Sprintf("%.0f", m.linked), fmt.Sprintf("%.0f", m.copied)
		if i != 1 {
			derived, linked, copied = "-", "-", "-"
		}
		fmt.Fprintf(tw, "%-30s\t%.0f\t%.2f%%\t%.4f\t%.3f\t%.2fs\t%.2f\t%.2f\t%.0f\t%s\t%s\t%s\t%.0f\t\n", methods[i].name,
			m.bytes, 100*m.bytes/float64(artifact), m.bytes/full.bytes, m.bytes/rsync.bytes,
			m.seconds, m.seconds/full.seconds, m.seconds/rsync.seconds, m.files, derived, linked, copied, m.shared)
	}
	tw.Flush()
	fmt.Println("\nwire bytes: ours = Result.Bytes + Result.Received (payload and envelope both ways, no SSH framing);")
	fmt.Println("rsync = its --stats \"Total bytes sent\" + \"Total bytes received\" (its protocol, no SSH framing).")
	fmt.Printf("ours' wall time includes deliver.Inspect (read, hash and list the artifact): median %.2fs (full), %.2fs (delta)\n", full.inspect, delta.inspect)
	fmt.Printf("delta per host: %.0f bytes sent (edit + payload + envelope + what derives files), %.0f received (the base's manifest + the derivable files' numbers)\n", delta.sent, delta.bytes-delta.sent)
	fmt.Println("every delivered v2 tree (each method, each host, each run) equals the v2 artifact's file manifest.")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	pct := 100 * delta.bytes / float64(artifact)
	fmt.Printf("target: delta wire bytes <= 1%% of the artifact: %.2f%% (%.0f of %d bytes): %s\n", pct, delta.bytes, artifact, verdict(pct <= 1))
	fmt.Printf("target: delta wall time < rsync's: %.2fs vs %.2fs (%.2f×): %s\n", delta.seconds, rsync.seconds, delta.seconds/rsync.seconds, verdict(delta.seconds < rsync.seconds))
}

func median(ss []sample, f func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// modeOf is find's %m as permission bits.
func modeOf(m uint64) os.FileMode { return os.FileMode(m).Perm() }

// breakdown prints what a delta from v1 to v2 is made of, computed here
// as the host and deliver would: the payload (the changed files, a subset
// of the artifact), the manifest edit (sent raw), and the base's manifest
// the host sends back (16 hex digits of each hash, gzip'd); and, for
// comparison, the edit gzip'd and the base's manifest with 8 hex digits.
func breakdown(ctx context.Context, v1, v2 version) error {
	old := map[string]string{}
	for _, e := range v1.art.FileList {
		old[e.Path] = e.Line()
	}
	var edit bytes.Buffer
	send := map[string]bool{}
	var changed []release.FileEntry
	for _, e := range v2.art.FileList {
		if old[e.Path] == e.Line() {
			delete(old, e.Path)
			continue
		}
		delete(old, e.Path)
		edit.WriteString(e.Line() + "\n")
		if e.Type == release.TypeFile {
			send[e.Path] = true
			changed = append(changed, e)
		}
	}
	for p := range old {
		edit.WriteString(p + "\t-\n")
	}
	in, err := os.Open(v2.art.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	var payload counter
	start := time.Now()
	if _, err := archive.Subset(ctx, in, archive.Format(v2.art.Format), &payload, func(name string) bool { return send[name] }); err != nil {
		return err
	}
	took := time.Since(start)
	short := func(n int) int {
		var b bytes.Buffer
		for _, e := range v1.art.FileList {
			if e.Type == release.TypeFile {
				e.Data = e.Data[:n]
			}
			b.WriteString(e.Line() + "\n")
		}
		return gzipped(b.Bytes())
	}
	fmt.Printf("a delta v1 -> v2 that sends every changed file: payload %d bytes (%d files, %s; made in %.2fs), edit %d bytes raw (%d lines; %d gzip'd); base manifest from the host %d bytes gzip'd (%d with 8 hex digits per hash)\n",
		payload.n, len(send), v2.art.Format, took.Seconds(), edit.Len(), bytes.Count(edit.Bytes(), []byte("\n")), gzipped(edit.Bytes()), short(16), short(8))
	slices.SortFunc(changed, func(a, b release.FileEntry) int { return cmp.Compare(b.Size, a.Size) })
	fmt.Print("largest changed files:")
	for _, e := range changed[:min(6, len(changed))] {
		fmt.Printf(" %s (%.1f KiB)", e.Path, float64(e.Size)/1024)
	}
	fmt.Println()
	return nil
}

func gzipped(b []byte) int {
	var z counter
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return int(z.n)
}

type counter struct{ n int64 }

func (c *counter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return len(b), nil
}
