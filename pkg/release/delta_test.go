package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

// node is one path of a test release: a file (body), a directory (dir)
// or a symlink (link).
type node struct {
	body, link string
	dir        bool
	mode       fs.FileMode
}

// tree is a test release: path to node. Parents are added as directories.
type tree map[string]node

func (tr tree) with(changes tree) tree {
	out := tree{}
	for p, n := range tr {
		out[p] = n
	}
	for p, n := range changes {
		if n == (node{}) {
			delete(out, p)
		} else {
			out[p] = n
		}
	}
	return out
}

// files is the tree's file manifest, as pack would write it.
func (tr tree) files() Files {
	var f Files
	seen := map[string]bool{}
	for p, n := range tr {
		for d := path.Dir(p); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			if _, own := tr[d]; !own {
				f = append(f, FileEntry{Path: d, Type: TypeDir, Mode: 0o755, Data: "-"})
			}
		}
		e := FileEntry{Path: p, Mode: n.mode, Data: "-"}
		switch {
		case n.dir:
			e.Type = TypeDir
		case n.link != "":
			e.Type, e.Mode, e.Data = TypeSymlink, 0o777, n.link
		default:
			s := sha256.Sum256([]byte(n.body))
			e.Type, e.Size, e.Data = TypeFile, int64(len(n.body)), hex.EncodeToString(s[:])
		}
		f = append(f, e)
	}
	f.Sort()
	return f
}

// holding are the tree's files that hold id, as deliver.Inspect keeps
// them from an artifact.
func (tr tree) holding(id string) Holding {
	h := Holding{ID: id, Content: map[string][]byte{}}
	for p, n := range tr {
		if !n.dir && n.link == "" && Derivable(p) && strings.Contains(n.body, id) {
			h.Content[p] = []byte(n.body)
		}
	}
	return h
}

// artifact packs the entries of the tree's manifest for which keep is
// true (every directory and symlink always) as a .tar.gz.
func (tr tree) artifact(t *testing.T, keep func(string) bool) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range tr.files() {
		h := &tar.Header{Name: e.Path, Mode: int64(e.Mode), ModTime: time.Unix(946684800, 0)}
		switch e.Type {
		case TypeDir:
			h.Typeflag, h.Name = tar.TypeDir, e.Path+"/"
		case TypeSymlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.Data
		default:
			if keep != nil && !keep(e.Path) {
				continue
			}
			h.Typeflag, h.Size = tar.TypeReg, e.Size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.Type == TypeFile {
			tw.Write([]byte(tr[e.Path].body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:])
}

func file644(body string) node { return node{body: body, mode: 0o644} }

// v1 has a file of every class: shared (node_modules, .next/static,
// public), written at run time (.next/server), and the rest.
var v1 = tree{
	"server.js":                         file644("require('next') // v1\n"),
	"package.json":                      file644(`{"name":"app"}`),
	".next/BUILD_ID":                    file644("v1"),
	".next/server/app/index.html":       file644("<html>v1</html>"),
	".next/server/app/about.html":       file644("<html>about</html>"),
	".next/static/chunks/main-aaa.js":   file644("main()"),
	".next/static/chunks/old-111.js":    file644("old()"),
	"public/logo.svg":                   file644("<svg/>"),
	"node_modules/next/package.json":    file644(`{"name":"next"}`),
	"node_modules/next/dist/server.js":  file644("module.exports = 1"),
	"node_modules/.bin/next":            {link: "../next/dist/server.js"},
	"node_modules/sharp/lib/libvips.so": {body: strings.Repeat("\x7fELF", 1000), mode: 0o755},
	"private":                           {dir: true, mode: 0o750},
	"bin/start":                         {body: "exec node /srv/v1/server.js\n", mode: 0o755},
}

// v2 is v1 after a one-line change: server.js, the BUILD_ID and bin/start
// change only by the release id (the host derives them from v1's, each
// with its own mode: bin/start's changed too), the index page changes, a
// chunk is new and one is gone.
var v2 = v1.with(tree{
	"server.js":                      file644("require('next') // v2\n"),
	".next/BUILD_ID":                 file644("v2"),
	"bin/start":                      {body: "exec node /srv/v2/server.js\n", mode: 0o700},
	".next/server/app/index.html":    file644("<html>v2, new text</html>"),
	".next/static/chunks/new-222.js": file644("new()"),
	".next/static/chunks/old-111.js": {},
})

// receiveFull delivers tr as release id with its file manifest.
func receiveFull(t *testing.T, l Layout, tr tree, id string) *Received {
	t.Helper()
	art, sum := tr.artifact(t, nil)
	if err := l.Ensure(context.Background(), remote.NewLocal()); err != nil {
		t.Fatal(err)
	}
	got, err := l.Receive(context.Background(), remote.NewLocal(), Upload{
		Manifest: Manifest{ID: id, SHA256: sum}, Format: "gz", Files: tr.files(),
		Payload: bytes.NewReader(art), PayloadBytes: int64(len(art)), PayloadSHA256: sum,
	})
	if err != nil || !got.Made {
		t.Fatalf("full receive of %s = %+v, %v", id, got, err)
	}
	return got
}

// deltaBase asks h for the base of a delta of release id, as the
// preflight does (base.sh's delta_base), without its other checks.
func deltaBase(t *testing.T, l Layout, h remote.Host, id string) (*Base, error) {
	t.Helper()
	out, err := l.run(context.Background(), h, "find a delta base", baseFns+"delta_base \"$1\" \"$2\"\n", id, strconv.Itoa(shortHash))
	if err != nil {
		return nil, err
	}
	return parseBase(out, h.Name())
}

// receiveDelta plans a delta of tr against the host's base and sends it.
func receiveDelta(t *testing.T, l Layout, tr tree, id string) (*Base, *Delta, *Received, error) {
	t.Helper()
	ctx := context.Background()
	b, err := deltaBase(t, l, remote.NewLocal(), id)
	if err != nil || b == nil {
		t.Fatalf("DeltaBase = %v, %v", b, err)
	}
	d := b.Plan(tr.files(), tr.holding(id))
	pay, sum := tr.artifact(t, func(p string) bool { return d.Send[p] })
	full, fullSum := tr.artifact(t, nil)
	got, err := l.Receive(ctx, remote.NewLocal(), Upload{
		Manifest: Manifest{ID: id, SHA256: fullSum, Bytes: int64(len(full))}, Format: "gz", Files: tr.files(),
		Payload: bytes.NewReader(pay), PayloadBytes: int64(len(pay)), PayloadSHA256: sum,
		Base: b.ID, Edit: d.Edit, Derive: d.Derive,
	})
	return b, d, got, err
}

func TestDeltaAssemblesTheSameTreeAsAFullUpload(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	receiveFull(t, l, v1, "v1")
	if err := l.Switch(ctx, h, "v1"); err != nil {
		t.Fatal(err)
	}
	b, d, got, err := receiveDelta(t, l, v2, "v2")
	if err != nil || !got.Made {
		t.Fatalf("delta receive = %+v, %v", got, err)
	}
	if b.ID != "v1" {
		t.Errorf("base %s, want the current release v1", b.ID)
	}
	if len(d.Send) != 2 || !d.Send[".next/server/app/index.html"] || !d.Send[".next/static/chunks/new-222.js"] {
		t.Errorf("sent %v, want index.html and the new chunk", d.Send)
	}
	if d.Derived != 3 || string(d.Derive) != "644\t.next/BUILD_ID\n700\tbin/start\n644\tserver.js\n" {
		t.Errorf("derived %d: %q, want server.js, BUILD_ID and bin/start (700) made from v1's", d.Derived, d.Derive)
	}
	// Shared: main chunk, logo, 3 files in node_modules. Copied: package.json, about.html.
	if got.Linked != 5 || got.Copied != 2 {
		t.Errorf("linked %d, copied %d; want 5 and 2", got.Linked, got.Copied)
	}
	receiveFull(t, l, v2, "v2full")
	rel := filepath.Join(root, "releases")
	if a, b := listTree(t, filepath.Join(rel, "v2")), listTree(t, filepath.Join(rel, "v2full")); a != b {
		t.Errorf("delta and full delivery differ:\n%s\n---\n%s", a, b)
	}
	for _, p := range []string{"node_modules/next/dist/server.js", ".next/static/chunks/main-aaa.js", "public/logo.svg"} {
		if !sameFile(t, filepath.Join(rel, "v1", p), filepath.Join(rel, "v2", p)) {
			t.Errorf("%s is a copy, want a hard link to v1's", p)
		}
	}
	// The server writes under .next (ISR pages): never shared.
	for _, p := range []string{".next/server/app/about.html", "package.json"} {
		if sameFile(t, filepath.Join(rel, "v1", p), filepath.Join(rel, "v2", p)) {
			t.Errorf("%s is shared between v1 and v2, want a copy", p)
		}
	}
	files, err := os.ReadFile(filepath.Join(rel, "v2", FilesPath))
	if err != nil || string(files) != string(v2.files().Marshal()) {
		t.Errorf("v2's %s = %q, %v; want its file manifest", FilesPath, files, err)
	}
	st, err := l.State(ctx, h)
	if err != nil || st.Find("v2").Manifest.Base != "v1" || st.Find("v2").Manifest.FilesSHA256 != v2.files().SHA256() {
		t.Errorf("v2's manifest %+v, %v; want base v1 and the files' sha256", st.Find("v2").Manifest, err)
	}
}

func TestDeltaRefusesATamperedBase(t *testing.T) {
	l, root, h := newLocal(t)
	receiveFull(t, l, v1, "v1")
	if err := l.Switch(context.Background(), h, "v1"); err != nil {
		t.Fatal(err)
	}
	// Same size, other bytes: only the hash tells.
	lib := filepath.Join(root, "releases", "v1", "node_modules/sharp/lib/libvips.so")
	if err := os.WriteFile(lib, []byte(strings.Repeat("\x7fELG", 1000)), 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := receiveDelta(t, l, v2, "v2")
	if err == nil || !strings.Contains(err.Error(), "VERIFY") || !strings.Contains(err.Error(), "libvips.so") {
		t.Fatalf("delta over a tampered base = %v, want a VERIFY error naming libvips.so", err)
	}
	if got := entries(t, filepath.Join(root, "releases")); strings.Join(got, ",") != "v1" {
		t.Errorf("releases/ holds %v after a refused delta, want v1 only", got)
	}
}

func TestDeltaRefusesAChangedMode(t *testing.T) {
	l, root, h := newLocal(t)
	receiveFull(t, l, v1, "v1")
	if err := l.Switch(context.Background(), h, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "releases", "v1", "public/logo.svg"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := receiveDelta(t, l, v2, "v2")
	if err == nil || !strings.Contains(err.Error(), "VERIFY") || !strings.Contains(err.Error(), "public/logo.svg") {
		t.Fatalf("delta over a base with a changed mode = %v, want a VERIFY error naming public/logo.svg", err)
	}
}

func TestDeltaBaseChoice(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	if err := l.Ensure(ctx, h); err != nil {
		t.Fatal(err)
	}
	if b, err := deltaBase(t, l, h, "v9"); err != nil || b != nil {
		t.Fatalf("DeltaBase on an empty host = %+v, %v; want none", b, err)
	}
	receiveFull(t, l, v1, "v1")
	receiveFull(t, l, v2, "v2")
	// A release without a file manifest (delivered before manifests) is
	// never a base.
	addRelease(t, root, "old", true, time.Now())
	later := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(root, "releases", "v1", ManifestPath), later, later)
	if b, _ := deltaBase(t, l, h, "v9"); b == nil || b.ID != "v1" {
		t.Errorf("base without current = %+v, want the newest complete release v1", b)
	}
	if err := l.Switch(ctx, h, "v2"); err != nil {
		t.Fatal(err)
	}
	if b, _ := deltaBase(t, l, h, "v9"); b == nil || b.ID != "v2" {
		t.Errorf("base = %+v, want the current release v2", b)
	}
	if b, _ := deltaBase(t, l, h, "v2"); b == nil || b.ID != "v1" {
		t.Errorf("base for v2 itself = %+v, want v1 (never itself)", b)
	}
	if err := l.Switch(ctx, h, "old"); err != nil {
		t.Fatal(err)
	}
	if b, _ := deltaBase(t, l, h, "v9"); b == nil || b.ID != "v1" {
		t.Errorf("base with a current that has no file manifest = %+v, want v1", b)
	}
}

func TestDeltaWithAGoneBase(t *testing.T) {
	l, root, h := newLocal(t)
	receiveFull(t, l, v1, "v1")
	b, err := deltaBase(t, l, h, "v2")
	if err != nil || b == nil {
		t.Fatal(b, err)
	}
	if err := os.RemoveAll(filepath.Join(root, "releases", "v1")); err != nil {
		t.Fatal(err)
	}
	d := b.Plan(v2.files(), v2.holding("v2"))
	pay, sum := v2.artifact(t, func(p string) bool { return d.Send[p] })
	_, err = l.Receive(context.Background(), h, Upload{Manifest: Manifest{ID: "v2", SHA256: sum}, Format: "gz", Files: v2.files(),
		Payload: bytes.NewReader(pay), PayloadBytes: int64(len(pay)), PayloadSHA256: sum, Base: b.ID, Edit: d.Edit})
	if err == nil || !strings.Contains(err.Error(), "BASE") {
		t.Fatalf("delta from a pruned base = %v, want a BASE error", err)
	}
}

// listTree lists a release like its file manifest, less .next-deploy/.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if rel == StateDir {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		data := "-"
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			data, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(c)
			data = hex.EncodeToString(s[:])
		}
		size := fi.Size()
		if !fi.Mode().IsRegular() {
			size = 0
		}
		b.WriteString(strings.Join([]string{filepath.ToSlash(rel), fi.Mode().String(), strconv.FormatInt(size, 10), data}, "\t") + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

// A full upload is verified against its file manifest too: a manifest
// that does not describe the artifact is refused, nothing is left.
func TestFullUploadVerifiesTheTree(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	if err := l.Ensure(ctx, h); err != nil {
		t.Fatal(err)
	}
	art, sum := v1.artifact(t, nil)
	for name, files := range map[string]Files{
		"other content": v2.files(),
		"missing entry": v1.files()[1:],
	} {
		_, err := l.Receive(ctx, h, Upload{Manifest: Manifest{ID: "v1", SHA256: sum}, Format: "gz", Files: files,
			Payload: bytes.NewReader(art), PayloadBytes: int64(len(art)), PayloadSHA256: sum})
		if err == nil || !strings.Contains(err.Error(), "VERIFY") {
			t.Errorf("%s: full upload = %v, want a VERIFY error", name, err)
		}
		if got := entries(t, filepath.Join(root, "releases")); len(got) != 0 {
			t.Errorf("%s: releases/ holds %v after a refused upload", name, got)
		}
	}
}
