package archive

import (
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/tarball"
)

// Levels are the compression levels a format takes and its default; the
// numbers mean what they mean to the zstd, gzip and xz commands. The
// compressors are tarball's (a delta's payload is written at the same
// default), so this is tarball.Levels, the levels pack's Options take.
func Levels(f release.Format) (lo, hi, def int) { return tarball.Levels(f) }

// CheckLevel checks a --level value for a format; 0 is the default.
func CheckLevel(f release.Format, level int) error { return tarball.CheckLevel(f, level) }
