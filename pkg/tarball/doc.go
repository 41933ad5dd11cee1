// Package tarball owns reading and checking a release artifact: the
// safety rules every entry must pass (Check, Extract, and pack before it
// writes one), listing (List), the file manifest beside an artifact
// (FilesExt, ReadFiles, WriteFiles), extraction, subsets for a delta
// delivery (Subset) and the compressors that write and read each
// release.Format (Levels, Writer). The pack step (pkg/archive) writes
// artifacts with it; deliver and the tests read them with it, so the
// rules that pack follows and the rules that deliver enforces are one.
package tarball
