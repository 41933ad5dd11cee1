package pm2

import (
	"encoding/json"
	"testing"
)

func TestAnswersFromTheReport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report string
		want   *Answers
	}{
		{"counted", `{"answers":[0,7,1,2,3]}`, &Answers{ByClass: [5]int64{0, 7, 1, 2, 3}}},
		{"an older preload", `{}`, nil},
		{"not by class", `{"answers":[1,2]}`, nil},
	} {
		var m memReport
		if err := json.Unmarshal([]byte(tc.report), &m); err != nil {
			t.Fatal(err)
		}
		got := m.answers()
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: answers = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	a := Answers{ByClass: [5]int64{0, 7, 1, 2, 3}}
	if a.Total() != 13 || a.ServerErrors() != 3 {
		t.Errorf("total %d, 5xx %d; want 13, 3", a.Total(), a.ServerErrors())
	}
}
