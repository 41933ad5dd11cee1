package deliver

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// A host holding another artifact under the id is a finding (exit 3),
// but only when nothing else failed: a failure next to it stays a failure.
func TestConflictsAloneAreAFinding(t *testing.T) {
	conflict := &release.ConflictError{Host: "b", ID: "r1", Have: "aaa", Want: "bbb"}
	down := errors.New("ssh: connect to c: connection refused")
	whole := errors.New("delivery of r1.tar.zst failed on 1 of 3 hosts")
	for _, tc := range []struct {
		name    string
		errs    []error
		finding bool
	}{
		{"one conflict", []error{nil, conflict, nil}, true},
		{"conflicts everywhere", []error{conflict, conflict}, true},
		{"a conflict and a host down", []error{nil, conflict, down}, false},
		{"a host down", []error{down, nil}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := make([]Result, len(tc.errs))
			for i, err := range tc.errs {
				rs[i].Err = err
			}
			err := findingIfConflicts(rs, whole)
			var f interface{ Finding() bool }
			if got := errors.As(err, &f) && f.Finding(); got != tc.finding {
				t.Errorf("finding = %v, want %v (err %v)", got, tc.finding, err)
			}
			if !errors.Is(err, whole) {
				t.Errorf("err %v lost the delivery's own error", err)
			}
			var ce *release.ConflictError
			if tc.finding && !errors.As(err, &ce) {
				t.Errorf("finding %v does not carry the conflict", err)
			}
		})
	}
}

// Which failures are retried: a cut connection is; a full disk, a bad
// host key, bad input and a conflict are not (regression: the fault suite
// saw three more full uploads to a full disk).
func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("upload: open session: EOF"), true},
		{&remote.ExitError{Host: "b", Code: 2, Stderr: "tar: server.js: Cannot write: No space left on device"}, false},
		{&remote.HostKeyError{Host: "b"}, false},
		{fmt.Errorf("r1: %w", release.ErrInvalid), false},
		{&release.ConflictError{Host: "b", ID: "r1"}, false},
	} {
		if got := transient(context.Background(), tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
