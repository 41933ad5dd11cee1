package pm2_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The preload's report says the worker is ready as soon as its server
// listens, not at the next sample (a minute away here): the reload reads
// it to give up on a worker that never listens (pm2.Site.Unready).
func TestPreloadReportsReadyOnceListening(t *testing.T) {
	a := startAppWith(t, appOpts{preload: true, env: []string{"NEXT_DEPLOY_MEM_MS=60000"}})
	file := filepath.Join(filepath.Dir(a.cmd.Args[2]), "mem", strconv.Itoa(a.cmd.Process.Pid)+".json")
	waitFor(t, 5*time.Second, "ready in "+file, func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		var r struct {
			Ready *bool `json:"ready"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v\n%s", file, err, b)
		}
		return r.Ready != nil && *r.Ready
	})
}
