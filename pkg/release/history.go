package release

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// Entry is one line of .next-deploy/history.jsonl: a switch of current.
// The previous release is read from here, never from sorting directory
// names (SHA names do not sort by time).
type Entry struct {
	Time time.Time `json:"time"`
	// Action is "activate" or "rollback".
	Action string `json:"action"`
	// Release is what current points at after the switch; From before it
	// ("" on the first activation).
	Release string `json:"release"`
	From    string `json:"from"`
	// Who and Run say who switched: user@machine, and the Actions run URL.
	Who string `json:"who,omitempty"`
	Run string `json:"run,omitempty"`
}

func decodeEntry(b64 string) (Entry, error) {
	var e Entry
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return e, err
	}
	err = json.Unmarshal(raw, &e)
	return e, err
}

// previous is the release that was current before the current one: the
// From of the newest entry that switched to current, skipping releases the
// host no longer holds (pruned) by walking further back.
func previous(history []Entry, current string, has func(string) bool) string {
	for i := len(history) - 1; i >= 0; i-- {
		e := history[i]
		if e.Release != current {
			continue
		}
		if e.From != "" && e.From != current && has(e.From) {
			return e.From
		}
	}
	// No usable From: the newest other release that was ever current.
	for i := len(history) - 1; i >= 0; i-- {
		if id := history[i].Release; id != current && has(id) {
			return id
		}
	}
	return ""
}

// Record appends e to the host's activation history.
func (l Layout) Record(ctx context.Context, h remote.Host, e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode history entry: %w", err)
	}
	_, err = l.run(ctx, h, "record history", recordScript, string(line))
	return err
}
