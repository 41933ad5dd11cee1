package pm2

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Memory is a worker's memory as the drain preload reports it
// (MemDir/<pid>.json): the newest sample and the recent ones, oldest
// first (the last half hour, every 10th sample, then the last two
// minutes at the preload's pace).
type Memory struct {
	// HeapLimit is V8's heap size limit (--max-old-space-size).
	HeapLimit int64 `json:"heap_limit"`
	// Every is the preload's pace.
	Every time.Duration `json:"-"`
	// HeapSignal and DiagnosticDir are the worker's --heapsnapshot-signal
	// and where its snapshots go ("" without the signal).
	HeapSignal    string `json:"heap_signal,omitempty"`
	DiagnosticDir string `json:"diagnostic_dir,omitempty"`
	// Last is the newest sample.
	Last    Sample   `json:"last"`
	Samples []Sample `json:"-"`
}

// Sample is one process.memoryUsage() of a worker.
type Sample struct {
	Time      time.Time `json:"time"`
	RSS       int64     `json:"rss"`
	HeapUsed  int64     `json:"heap_used"`
	HeapTotal int64     `json:"heap_total"`
	External  int64     `json:"external"`
}

// memReport is the preload's file as it is on disk.
type memReport struct {
	V         int   `json:"v"`
	PID       int   `json:"pid"`
	Every     int64 `json:"every"`
	HeapLimit int64 `json:"heap_limit"`
	// Ready is whether the app listens; nil from a preload that does
	// not say (older than this field).
	Ready  *bool       `json:"ready"`
	Signal string      `json:"heap_signal"`
	Dir    string      `json:"diagnostic_dir"`
	Coarse [][]float64 `json:"coarse"`
	Fine   [][]float64 `json:"fine"`
	// Answers by status class, 1xx first (see Answers).
	Answers []int64 `json:"answers"`
}

// memory merges the coarse and fine samples by time; nil without any.
func (m *memReport) memory() *Memory {
	seen := map[int64]bool{}
	var ss []Sample
	for _, row := range append(append([][]float64{}, m.Coarse...), m.Fine...) {
		if len(row) < 4 || seen[int64(row[0])] {
			continue
		}
		seen[int64(row[0])] = true
		s := Sample{Time: time.UnixMilli(int64(row[0])).UTC(), RSS: int64(row[1]), HeapUsed: int64(row[2]), HeapTotal: int64(row[3])}
		if len(row) > 4 {
			s.External = int64(row[4])
		}
		ss = append(ss, s)
	}
	if len(ss) == 0 {
		return nil
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Time.Before(ss[j].Time) })
	return &Memory{HeapLimit: m.HeapLimit, HeapSignal: m.Signal, DiagnosticDir: m.Dir, Every: time.Duration(m.Every) * time.Millisecond, Last: ss[len(ss)-1], Samples: ss}
}

// ParseMemory reads a memory report as the preload writes it.
func ParseMemory(b []byte) (*Memory, error) {
	var m memReport
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("memory report: %w", err)
	}
	mem := m.memory()
	if mem == nil {
		return nil, errors.New("memory report without samples")
	}
	return mem, nil
}
