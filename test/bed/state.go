package bed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

const (
	// lockPath serialises beds across processes: `go test ./...` runs
	// packages in parallel and every bed uses the same addresses.
	lockPath = "/tmp/next-deploy-bed.lock"
	// statePath lists what the running bed started, so that the next bed
	// can clean up after a test binary that was killed.
	statePath = "/tmp/next-deploy-bed.state"
	// dirPrefix starts the base name of every bed's root directory.
	dirPrefix = "ndbed-"
	// userPrefix starts every bed user's name.
	userPrefix = "ndb"
)

// bedUser matches the names Start gives users: "ndb" + 4 random
// characters + "h<index>" or "j" (jump host). Nothing else is ever deleted.
var bedUser = regexp.MustCompile(`^` + userPrefix + `[a-z0-9]{4}(h[0-9]{1,3}|j)$`)

// state is the content of statePath.
type state struct {
	BootID string   `json:"boot_id"`
	Owner  int      `json:"owner_pid"`
	Dir    string   `json:"dir"`
	Users  []string `json:"users"`
	Procs  []procID `json:"procs"`
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// lockBeds takes the machine-wide bed lock, waiting for another bed to end.
func lockBeds(logf func(string, ...any)) (*os.File, error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open bed lock: %w", err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		logf("bed: waiting for another test bed to finish (lock %s)", lockPath)
		start := time.Now()
		err = flockRetry(f)
		logf("bed: got the lock after %s", time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	return f, nil
}

func flockRetry(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// saveState writes st atomically.
func saveState(st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write bed state: %w", err)
	}
	if err := os.Rename(tmp, statePath); err != nil {
		return fmt.Errorf("write bed state: %w", err)
	}
	return nil
}

// cleanLeftovers removes what a crashed earlier bed left: its processes
// (only those recorded with their start time in this boot), its users
// (only names Start gives, recorded or found in /etc/passwd with a home in
// a bed directory) and its directories. It runs under the lock, so no live
// bed owns any of it.
func cleanLeftovers(logf func(string, ...any)) error {
	var st state
	b, err := os.ReadFile(statePath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read bed state: %w", err)
	default:
		if err := json.Unmarshal(b, &st); err != nil {
			logf("bed: ignoring unreadable %s: %v", statePath, err)
			st = state{}
		}
	}
	var errs []error
	if len(st.Procs) > 0 && st.BootID == bootID() {
		logf("bed: killing %d daemons left by an earlier bed (test process %d)", len(st.Procs), st.Owner)
		errs = append(errs, killFamily(2*time.Second, st.Procs...))
	}
	users := slices.Clone(st.Users)
	ents, err := readPasswd()
	if err != nil {
		return err
	}
	for _, e := range ents {
		if bedUser.MatchString(e.name) && inBedDir(e.home) {
			users = append(users, e.name)
		}
	}
	slices.Sort(users)
	for _, u := range slices.Compact(users) {
		if !bedUser.MatchString(u) {
			continue
		}
		e, ok := lookupUser(ents, u)
		if !ok {
			continue
		}
		logf("bed: removing user %s left by an earlier bed", u)
		errs = append(errs, removeUser(e))
	}
	dirs := []string{st.Dir}
	for _, root := range []string{"/tmp", os.TempDir()} {
		m, _ := filepath.Glob(filepath.Join(root, dirPrefix+"*"))
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		if d != "" && inBedDir(d+"/x") {
			errs = append(errs, os.RemoveAll(d))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up an earlier bed: %w", err)
	}
	if err := os.Remove(statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// inBedDir reports whether path lies inside a bed root directory.
func inBedDir(path string) bool {
	path = filepath.Clean(path)
	for dir := filepath.Dir(path); dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		if strings.HasPrefix(filepath.Base(dir), dirPrefix) {
			return true
		}
	}
	return false
}
