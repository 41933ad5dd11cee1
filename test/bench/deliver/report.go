package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/org/next-deploy/test/bench/benchkit"
)

// row is the medians of one method at one host count.
type row struct {
	hosts int
	sample
}

func medians(n int, ms []method, samples [][]sample) []row {
	med := benchkit.Median[sample]
	rows := make([]row, len(ms))
	for i, ss := range samples {
		rows[i] = row{n, sample{
			pack:  med(ss, func(s sample) float64 { return s.pack }),
			send:  med(ss, func(s sample) float64 { return s.send }),
			cpu:   med(ss, func(s sample) float64 { return s.cpu }),
			bytes: med(ss, func(s sample) float64 { return s.bytes }),
		}}
	}
	return rows
}

// report prints the methods' medians at n hosts, with ratios to scp + tar.
func report(w io.Writer, n int, ms []method, rows []row) {
	fmt.Fprintf(w, "\n%d hosts:\n", n)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-28s\t", "method")
	fmt.Fprintln(tw, "pack\tdeliver\tdeliver ×scp\trunner CPU\tCPU/host\tCPU ×scp\tMiB/host\tbytes ×scp\t")
	base := rows[scp]
	for i, r := range rows {
		pack := "-"
		if ms[i].pack != nil {
			pack = fmt.Sprintf("%.2fs", r.pack)
		}
		fmt.Fprintf(tw, "%-28s\t%s\t%.2fs\t%.2f\t%.2fs\t%.3fs\t%.2f\t%.2f\t%.2f\t\n", ms[i].name, pack, r.send, r.send/base.send,
			r.cpu, r.cpu/float64(n), r.cpu/base.cpu, benchkit.MiB(int64(r.bytes)), r.bytes/base.bytes)
	}
	tw.Flush()
	o := rows[ours]
	fmt.Fprintf(w, "ours vs scp + tar at %d hosts: deliver %.2f×, pack+deliver %.2f×, runner CPU %.2f×, bytes %.2f×\n",
		n, o.send/base.send, (o.pack+o.send)/(base.pack+base.send), o.cpu/base.cpu, o.bytes/base.bytes)
}

// flatness prints, per method, how the runner's CPU seconds and the bytes
// per host at the largest host count compare with the smallest (flat:
// 1.00), and ours against scp + tar at each count.
func flatness(w io.Writer, ms []method, rows []row, hosts []int) {
	if len(hosts) < 2 {
		return
	}
	first, last := rows[:len(ms)], rows[len(rows)-len(ms):]
	fmt.Fprintf(w, "\nper host, %d hosts ÷ %d hosts (flat: 1.00):\n", hosts[len(hosts)-1], hosts[0])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-28s\tCPU/host\tbytes/host\twall\t\n", "method")
	for i := range ms {
		a, b := first[i], last[i]
		perHost := func(r row) float64 { return r.cpu / float64(r.hosts) }
		fmt.Fprintf(tw, "%-28s\t%.2f\t%.2f\t%.2f\t\n", ms[i].name, perHost(b)/perHost(a), b.bytes/a.bytes, b.send/a.send)
	}
	tw.Flush()
	fmt.Fprint(w, "ours ÷ scp + tar, deliver wall:")
	for k, n := range hosts {
		rs := rows[k*len(ms):]
		fmt.Fprintf(w, " %d hosts %.2f×;", n, rs[ours].send/rs[scp].send)
	}
	fmt.Fprintln(w)
}
