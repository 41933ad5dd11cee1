package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// actBinDir is where this test binary builds the CLI: its own directory
// (the bed users run the CLI too, so not a private temp dir under /root).
func actBinDir() string {
	return filepath.Join(os.TempDir(), "next-deploy-e2e-"+strconv.Itoa(os.Getpid()))
}

func TestMain(m *testing.M) {
	code := m.Run()
	_ = os.RemoveAll(actBinDir())
	os.Exit(code)
}
