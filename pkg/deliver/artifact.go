package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/tarball"
)

// ErrBadArtifact marks an artifact refused before any host is touched:
// unreadable, not matching its .sha256, or unsafe to unpack.
var ErrBadArtifact = errors.New("bad artifact")

// Inspect reads the artifact at path once to learn its format (from the
// name), sha256 and content, and refuses it when it does not match its
// <path>.sha256 file or holds an entry that could write outside the
// release (tarball.Check). Its file manifest is made from its content
// and compared with pack's <path>.files.tsv when there is one. id, when
// empty, comes from the file name.
func Inspect(ctx context.Context, path, id string) (Artifact, string, error) {
	bad := func(err error) (Artifact, string, error) {
		return Artifact{}, "", fmt.Errorf("%w %s: %w", ErrBadArtifact, path, err)
	}
	var a Artifact
	stem, format, ok := release.SplitArtifactName(filepath.Base(path))
	if !ok {
		return bad(errors.New("name must end in .tar.zst, .tar.gz, .tar.xz or .tar (as pack writes it)"))
	}
	a.Format = format
	if id == "" {
		id = stem
	}
	if err := release.ValidID(id); err != nil {
		return bad(err)
	}
	f, err := os.Open(path)
	if err != nil {
		return bad(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return bad(err)
	}
	h := sha256.New()
	// The app's own files (not its packages) are kept as they are read:
	// a delta's payload is made from them, and those that hold the id
	// are made on a host from its base's (release.Holding).
	hold := tarball.Hold{Max: release.HoldMax, Keep: func(name string, _ int64) bool { return release.Derivable(name) }}
	files, st, held, err := tarball.ListHolding(ctx, io.TeeReader(f, h), a.Format, hold)
	if err != nil {
		return bad(err)
	}
	// Check may stop at the end of the tar stream before the end of the
	// file: hash the rest too, the server checks the whole file.
	if _, err := io.Copy(h, f); err != nil {
		return bad(err)
	}
	a.Path, a.Bytes, a.SHA256 = path, fi.Size(), hex.EncodeToString(h.Sum(nil))
	a.Files, a.Unpacked, a.AppDir = st.Files, st.Unpacked, st.AppDir
	if a.AppDir == "." {
		a.AppDir = ""
	}
	if err := matchSumFile(path+".sha256", a.SHA256); err != nil {
		return bad(err)
	}
	// The manifest is made from the artifact itself; pack's copy beside
	// it, when there is one, must say the same.
	packed, err := tarball.ReadFiles(path + tarball.FilesExt)
	if err != nil {
		return bad(fmt.Errorf("%s%s: %w", filepath.Base(path), tarball.FilesExt, err))
	}
	if packed != nil && packed.SHA256() != files.SHA256() {
		return bad(fmt.Errorf("%s%s does not describe the artifact: it changed after pack", filepath.Base(path), tarball.FilesExt))
	}
	a.FileList = files
	a.held = held
	a.Holding = release.Holding{ID: id, Content: held.Holding([]byte(id))}
	return a, id, nil
}

// matchSumFile compares with a "<hex>  <name>" file written by pack (or
// sha256sum), when there is one.
func matchSumFile(path, sum string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 || !strings.EqualFold(fields[0], sum) {
		return fmt.Errorf("sha256 %s does not match %s: the artifact changed after pack", sum, filepath.Base(path))
	}
	return nil
}

// SharedInside lists what the artifact holds at the shared entries (a
// .env.production from the checkout, an uploads/ folder from the build):
// each release gets a link there instead, so that content never serves.
func (a Artifact) SharedInside(shared []string) []string {
	return release.SharedInArtifact(a.FileList, a.AppDir, shared)
}
