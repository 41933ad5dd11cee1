package release

import (
	"os/exec"
	"strings"
	"testing"
)

func TestCompact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"# a.sh: does a thing\n# more words\nx=1\n", "# a.sh\nx=1\n"},
		{"x=1\n\n\t# why\n\tawk '\n\t\t{ print }' f\n", "x=1\n\tawk '\n\t\t{ print }' f\n"},
		{"# receive-unpack.sh: unpack\nunpack() {\n\t: # keep\n}\n", "# receive-unpack.sh\nunpack() {\n\t: # keep\n}\n"},
		{"echo '#not a comment' # tail stays\n", "echo '#not a comment' # tail stays\n"},
	} {
		if got := compact(tc.in); got != tc.want {
			t.Errorf("compact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every script still parses once compact, and lost nothing but comments:
// a script that ran only because of a line compact dropped would fail
// here first.
func TestCompactScriptsParse(t *testing.T) {
	for name, s := range map[string]string{"preflight": preflightScript, "base": baseFns, "receive": receiveScript,
		"clean": cleanScript, "lock": lockScript, "unlock": unlockScript, "state": stateScript} {
		c := compact(prelude + s)
		if len(c) >= len(prelude+s) {
			t.Errorf("%s: compact is not smaller", name)
		}
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = strings.NewReader(c)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v: %s", name, err, out)
		}
	}
}
