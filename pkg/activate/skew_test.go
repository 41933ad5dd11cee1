package activate

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
)

func TestPlanTidy(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	k := func(id string, minutes, online int) pm2.Kept {
		return pm2.Kept{Name: "web-skew-" + id, Release: id, Until: now.Add(time.Duration(minutes) * time.Minute), Workers: 1, Online: online}
	}
	names := func(ks []pm2.Kept) []string {
		out := []string{}
		for _, x := range ks {
			out = append(out, x.Release)
		}
		return out
	}
	for _, c := range []struct {
		name      string
		kept      []pm2.Kept
		to        string
		keep      int
		end, stay []string
	}{
		{"nothing", nil, "r2", 1, []string{}, []string{}},
		{"the one just kept stays", []pm2.Kept{k("r1", 15, 1)}, "r2", 1, []string{}, []string{"r1"}},
		{"the release now current goes (a rollback to it)", []pm2.Kept{k("r1", 15, 1)}, "r1", 1, []string{"r1"}, []string{}},
		{"a stopped one goes (its window ended)", []pm2.Kept{k("r0", 5, 0), k("r1", 15, 1)}, "r2", 2, []string{"r0"}, []string{"r1"}},
		{"one past its window goes", []pm2.Kept{k("r0", -1, 1), k("r1", 15, 1)}, "r2", 2, []string{"r0"}, []string{"r1"}},
		{"never more than keep: the oldest go", []pm2.Kept{k("r0", 5, 1), k("r1", 10, 1), k("r2", 15, 1)}, "r3", 2, []string{"r0"}, []string{"r1", "r2"}},
		{"keep 1", []pm2.Kept{k("r0", 5, 1), k("r1", 10, 1)}, "r3", 1, []string{"r0"}, []string{"r1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			end, stay := planTidy(c.kept, c.to, now, c.keep)
			if got := names(end); !reflect.DeepEqual(got, c.end) {
				t.Errorf("end %q, want %q", got, c.end)
			}
			if got := names(stay); !reflect.DeepEqual(got, c.stay) {
				t.Errorf("stay %q, want %q", got, c.stay)
			}
		})
	}
}

func TestSkewCheck(t *testing.T) {
	if err := (Skew{Window: 15 * time.Minute, Keep: 1, Instances: 1}).Check(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (Skew{Window: 0, Keep: 1, Instances: 1}).Check(); err != nil {
		t.Errorf("window 0 (off): %v", err)
	}
	err := Skew{Window: 25 * time.Hour, Keep: 0, Instances: 0}.Check()
	for _, want := range []string{"skew window", "skew keep", "skew instances"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}
