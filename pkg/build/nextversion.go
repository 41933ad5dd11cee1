package build

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// nextVersion is the version of the next package whose CLI is at
// <pkg>/dist/bin/next, "" when its package.json cannot be read.
func nextVersion(cli string) string {
	pkg := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(cli))), "package.json")
	b, err := os.ReadFile(pkg)
	if err != nil {
		return ""
	}
	var v struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	return v.Version
}

// majorMinor parses the start of a version ("13.4.19" is 13, 4).
func majorMinor(version string) (major, minor int, ok bool) {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// hostnameWarning is the warning for a Next whose standalone server does
// not keep to HOSTNAME (what activate and config pm2 set from --hostname),
// "" for one that does. Before 13.4 the server.js that next build writes
// calls server.listen(PORT) and so listens on every address (13.3.4's
// dist/build/utils.js); from 13.4 on it passes HOSTNAME to startServer,
// which listens there only (13.5, 14, 15 and 16 are deployed by
// test/compat with --hostname set).
func hostnameWarning(version string) string {
	major, minor, ok := majorMinor(version)
	if !ok || major > 13 || (major == 13 && minor >= 4) {
		return ""
	}
	return fmt.Sprintf("next %s ignores --hostname (HOSTNAME) of activate and config pm2: its standalone server.js "+
		"listens on every address; firewall the app's port, or upgrade to Next 13.4 or newer", version)
}
