package release

import (
	"regexp"
	"strings"
	"sync"
)

// compact is a script as it goes on the wire: without its comment lines
// and blank lines, which are for readers of the files, not for sh, and
// went with every command (a third of a delta's command lines). The
// first line of each file ("# receive.sh: ...") stays as its name
// ("# receive.sh"), so a script on a host still says what it is. A '#'
// line is a comment in sh and in awk alike, and no script here has a
// here-document or a multi-line string whose lines start with '#'.
func compact(script string) string {
	if c, ok := compacted.Load(script); ok {
		return c.(string)
	}
	var b strings.Builder
	for l := range strings.Lines(script) {
		t := strings.TrimSpace(l)
		switch {
		case t == "":
		case strings.HasPrefix(t, "#"):
			if m := fileName.FindString(t); m != "" {
				b.WriteString(m + "\n")
			}
		default:
			b.WriteString(l)
		}
	}
	compacted.Store(script, b.String())
	return b.String()
}

var (
	compacted sync.Map
	fileName  = regexp.MustCompile(`^# [a-z0-9-]+\.sh\b`)
)
