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

// Actions of a history entry.
const (
	ActionActivate = "activate"
	ActionRollback = "rollback"
)

// RolledBack is the set of releases a rollback left and that nothing made
// current again since (an activate, or a rollback --to that names them):
// a rollback never goes to one of them again, and prune removes them
// first. The rollback entry's From is the mark; the history is the one
// record of it.
func RolledBack(history []Entry) map[string]bool {
	marked := map[string]bool{}
	for _, e := range history {
		delete(marked, e.Release)
		if e.Action == ActionRollback && e.From != "" && e.From != e.Release {
			marked[e.From] = true
		}
	}
	return marked
}

// Previous is where a rollback goes from current: the newest release
// older than current, by when an activate last made it current, that the
// host still holds and that no rollback left (RolledBack). So r1 -> r2 ->
// r3, rollback goes to r2, a second rollback to r1, and never back to r3.
// "" when there is none. Order comes from the history, never from sorting
// directory names (SHA names do not sort by time).
func Previous(history []Entry, current string, has func(string) bool) string {
	marked := RolledBack(history)
	// at is the place of each release in activation order: where an
	// activate last switched to it; a From seen before any switch to it
	// (current before the history began) sorts just before that entry.
	at := map[string]int{}
	for i, e := range history {
		if _, seen := at[e.From]; e.From != "" && !seen {
			at[e.From] = 2*i - 1
		}
		if e.Action != ActionRollback {
			at[e.Release] = 2 * i
		} else if _, seen := at[e.Release]; !seen {
			at[e.Release] = 2*i - 1
		}
	}
	limit, ok := at[current]
	if !ok {
		limit = 2 * len(history)
	}
	best, bestAt := "", -2
	for id, i := range at {
		if id != current && i < limit && i > bestAt && !marked[id] && has(id) {
			best, bestAt = id, i
		}
	}
	return best
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
