package release

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// Manifest is releases/<id>/.next-deploy/release.json, written last by
// deliver: its presence means the release is complete and verified.
type Manifest struct {
	ID string `json:"id"`
	// SHA256 and Bytes are those of the artifact the release came from.
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Files is the number of files in the release tree.
	Files int `json:"files"`
	// AppDir is where server.js is, relative to the release ("" or
	// "apps/web" in a monorepo).
	AppDir string    `json:"app_dir"`
	Time   time.Time `json:"time"`
	RunURL string    `json:"run_url,omitempty"`
	// FilesSHA256 is the sha256 of the release's file manifest
	// (.next-deploy/files.tsv), which the tree was verified against.
	FilesSHA256 string `json:"files_sha256,omitempty"`
	// Base is the release a delta delivery took unchanged files from.
	Base string `json:"base,omitempty"`
	// Shared are the entries linked from the shared folder (shared.go),
	// relative to AppDir.
	Shared []string `json:"shared,omitempty"`
}

// Release is one directory under releases/.
type Release struct {
	ID string `json:"id"`
	// DiskBytes is the size on disk (du -sk).
	DiskBytes int64 `json:"disk_bytes"`
	// DeliveredAt is the manifest's time, else the directory's mtime.
	DeliveredAt time.Time `json:"delivered_at"`
	// Complete is true when the manifest is present and readable.
	Complete bool      `json:"complete"`
	Manifest *Manifest `json:"manifest,omitempty"`
	Current  bool      `json:"current"`
	Previous bool      `json:"previous"`
	// RolledBack marks a release a rollback left: never a rollback's
	// target again, the first that prune removes.
	RolledBack bool `json:"rolled_back,omitempty"`
}

// State is what a host holds: its releases (newest delivery first), which
// is current, which previous, and the activation history (oldest first).
type State struct {
	Releases []Release `json:"releases"`
	Current  string    `json:"current"`
	Previous string    `json:"previous"`
	History  []Entry   `json:"-"`
	// Incoming counts in-flight or abandoned uploads (.incoming-*).
	Incoming int `json:"incoming"`
}

// Has reports whether the host holds release id, complete.
func (s *State) Has(id string) bool {
	r := s.Find(id)
	return r != nil && r.Complete
}

// Find returns release id, or nil.
func (s *State) Find(id string) *Release {
	for i := range s.Releases {
		if s.Releases[i].ID == id {
			return &s.Releases[i]
		}
	}
	return nil
}

// State reads what the host holds. A deploy root that does not exist yet
// is an empty state, not an error.
func (l Layout) State(ctx context.Context, h remote.Host) (*State, error) {
	out, err := l.run(ctx, h, "list releases", stateScript)
	if err != nil {
		return nil, err
	}
	st, err := parseState(out)
	if err != nil {
		return nil, fmt.Errorf("list releases in %s on %s: %w", l.Root, h.Name(), err)
	}
	return st, nil
}

func parseState(out []byte) (*State, error) {
	st := &State{}
	byID := map[string]*Release{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case f[0] == "N":
		case f[0] == "C" && len(f) == 2:
			st.Current = currentID(f[1])
		case f[0] == "I" && len(f) == 2:
			st.Incoming++
		case f[0] == "R" && len(f) == 4:
			kb, err1 := strconv.ParseInt(f[2], 10, 64)
			mt, err2 := strconv.ParseInt(f[3], 10, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("bad listing line %q", sc.Text())
			}
			byID[f[1]] = &Release{ID: f[1], DiskBytes: kb * 1024, DeliveredAt: time.Unix(mt, 0).UTC()}
			order = append(order, f[1])
		case f[0] == "M" && len(f) == 3:
			r := byID[f[1]]
			if r == nil {
				return nil, fmt.Errorf("manifest line for unknown release %q", f[1])
			}
			if m, err := decodeManifest(f[2]); err == nil && m.ID == r.ID {
				r.Manifest, r.Complete = m, true
				if !m.Time.IsZero() {
					r.DeliveredAt = m.Time.UTC()
				}
			}
		case f[0] == "H" && len(f) == 2:
			if e, err := decodeEntry(f[1]); err == nil {
				st.History = append(st.History, e)
			}
		default:
			return nil, fmt.Errorf("bad listing line %q", sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, id := range order {
		st.Releases = append(st.Releases, *byID[id])
	}
	sort.SliceStable(st.Releases, func(i, j int) bool {
		a, b := st.Releases[i], st.Releases[j]
		if !a.DeliveredAt.Equal(b.DeliveredAt) {
			return a.DeliveredAt.After(b.DeliveredAt)
		}
		return a.ID < b.ID
	})
	st.Previous = Previous(st.History, st.Current, st.Has)
	marked := RolledBack(st.History)
	for i := range st.Releases {
		st.Releases[i].Current = st.Releases[i].ID == st.Current
		st.Releases[i].Previous = st.Releases[i].ID == st.Previous
		st.Releases[i].RolledBack = marked[st.Releases[i].ID]
	}
	return st, nil
}

// currentID is the release a current link points at ("releases/<id>").
func currentID(target string) string {
	return path.Base(strings.TrimSuffix(target, "/"))
}

func decodeManifest(b64 string) (*Manifest, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return &m, nil
}
