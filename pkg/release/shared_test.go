package release

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/remote"
)

func TestSharedLinks(t *testing.T) {
	for _, tc := range []struct {
		appDir  string
		entries []string
		want    []string
	}{
		{"", nil, nil},
		{"", []string{".env.production"}, []string{".env.production", "../../shared/.env.production"}},
		{".", []string{"uploads/"}, []string{"uploads", "../../shared/uploads"}},
		{"", []string{"public/uploads/"}, []string{"public/uploads", "../../../shared/public/uploads"}},
		{"apps/web", []string{".env.production", "public/uploads/"}, []string{
			"apps/web/.env.production", "../../../../shared/.env.production",
			"apps/web/public/uploads", "../../../../../shared/public/uploads",
		}},
	} {
		if got := sharedLinks(tc.appDir, tc.entries); !slices.Equal(got, tc.want) {
			t.Errorf("sharedLinks(%q, %q) = %q, want %q", tc.appDir, tc.entries, got, tc.want)
		}
	}
}

func TestCheckSharedList(t *testing.T) {
	for _, tc := range []struct {
		entries []string
		want    string // "" for none
	}{
		{[]string{".env.production", "public/uploads/", "config/site.json"}, ""},
		{[]string{"../etc/passwd"}, "must not contain '..'"},
		{[]string{"/etc/hosts"}, "want a path relative"},
		{[]string{"a b"}, "want letters"},
		{[]string{"./x"}, "want a clean path"},
		{[]string{"/"}, "empty"},
		{[]string{".next-deploy/release.json"}, "state folder"},
		{[]string{"uploads/", "uploads"}, `overlaps "uploads/"`},
		{[]string{"public/", "public/uploads/"}, `overlaps "public/"`},
		{[]string{"public/uploads/", "public/"}, `overlaps "public/uploads/"`},
	} {
		err := CheckSharedList(tc.entries)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckSharedList(%q) = %v, want nil", tc.entries, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid)):
			t.Errorf("CheckSharedList(%q) = %v, want an ErrInvalid saying %q", tc.entries, err, tc.want)
		}
	}
}

func TestSharedInArtifact(t *testing.T) {
	files := Files{
		{Path: "apps/web/.env.production", Type: TypeFile},
		{Path: "apps/web/public", Type: TypeDir},
		{Path: "apps/web/public/uploads", Type: TypeDir},
		{Path: "apps/web/public/uploads/a.png", Type: TypeFile},
		{Path: "apps/web/server.js", Type: TypeFile},
	}
	got := SharedInArtifact(files, "apps/web", []string{".env.production", "public/uploads/", "data/"})
	if want := []string{"apps/web/.env.production", "apps/web/public/uploads"}; !slices.Equal(got, want) {
		t.Errorf("SharedInArtifact = %q, want %q", got, want)
	}
}

// sharedManifest is release id's manifest with the shared entries
// .env.production and public/uploads/.
func sharedManifest(id, appDir string) Manifest {
	return Manifest{ID: id, AppDir: appDir, Shared: []string{".env.production", "public/uploads/"}}
}

// sharedTree is an app in appDir whose artifact holds, at the shared
// paths, what the checkout and the build left there.
func sharedTree(appDir, version string) tree {
	j := func(p string) string { return filepath.ToSlash(filepath.Join(appDir, p)) }
	return tree{
		j("server.js"):              file644("// " + version + "\n"),
		j(".env.production"):        file644("SECRET=from the checkout\n"),
		j("public/logo.svg"):        file644("<svg/>"),
		j("public/uploads/old.png"): file644("png from the build"),
		j("node_modules/x/i.js"):    file644("module.exports = 1"),
	}
}

// The preflight names what a host lacks, with the fix, and makes the
// shared folders; the release then links every entry, relative, in place
// of what the artifact had there, and the app reads the host's file
// through current, whatever its app dir.
func TestReceiveLinksShared(t *testing.T) {
	for _, appDir := range []string{"", "apps/web"} {
		t.Run("app dir "+appDir, func(t *testing.T) {
			l, root, h := newLocal(t)
			ctx := context.Background()
			m := sharedManifest("s1", appDir)
			_, err := l.Preflight(ctx, h, "s1", "gz", time.Hour, m.Shared)
			var se *SharedError
			if !errors.As(err, &se) || len(se.Paths) != 1 || !strings.Contains(err.Error(), "shared "+filepath.Join(root, "shared", ".env.production")+" on local: missing: create ") {
				t.Fatalf("preflight without the shared file = %v, want a SharedError naming it, the host and the fix", err)
			}
			if st, err := os.Stat(filepath.Join(root, "shared", "public", "uploads")); err != nil || !st.IsDir() {
				t.Errorf("the preflight did not make the shared folder: %v", err)
			}
			if err := os.WriteFile(filepath.Join(root, "shared", ".env.production"), []byte("SECRET=from the host\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Preflight(ctx, h, "s1", "gz", time.Hour, m.Shared); err != nil {
				t.Fatalf("preflight with the shared entries there: %v", err)
			}
			tr := sharedTree(appDir, "s1")
			receiveWithShared(t, l, tr, m)
			if err := l.Switch(ctx, h, "s1"); err != nil {
				t.Fatal(err)
			}
			checkShared(t, root, "s1", appDir, tr)
		})
	}
}

// receiveWithShared delivers tr in full, with its file manifest.
func receiveWithShared(t *testing.T, l Layout, tr tree, m Manifest) {
	t.Helper()
	art, sum := tr.artifact(t, nil)
	m.SHA256 = sum
	got, err := l.Receive(context.Background(), remote.NewLocal(), Upload{
		Manifest: m, Format: "gz", Files: tr.files(),
		Payload: bytes.NewReader(art), PayloadBytes: int64(len(art)), PayloadSHA256: sum,
	})
	if err != nil || !got.Made {
		t.Fatalf("receive %s with shared entries = %+v, %v", m.ID, got, err)
	}
}

// checkShared checks release id's links, what the app reads through
// current, and that the release keeps the artifact's file manifest.
func checkShared(t *testing.T, root, id, appDir string, tr tree) {
	t.Helper()
	rel := filepath.Join(root, "releases", id)
	ups := "../.."
	if appDir != "" {
		ups = "../../../.."
	}
	for p, want := range map[string]string{".env.production": ups + "/shared/.env.production", "public/uploads": ups + "/../shared/public/uploads"} {
		got, err := os.Readlink(filepath.Join(rel, appDir, p))
		if err != nil || got != want {
			t.Errorf("%s in release %s: link to %q, %v; want %q", p, id, got, err, want)
		}
	}
	app := filepath.Join(root, "current", appDir)
	if b, err := os.ReadFile(filepath.Join(app, ".env.production")); err != nil || string(b) != "SECRET=from the host\n" {
		t.Errorf("the app reads .env.production %q, %v; want the host's shared file", b, err)
	}
	if err := os.WriteFile(filepath.Join(app, "public", "uploads", "new-"+id+".png"), []byte("u"), 0o644); err != nil {
		t.Errorf("the app cannot write to uploads: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "shared", "public", "uploads", "new-"+id+".png")); err != nil {
		t.Errorf("an upload did not land in shared/: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(app, "public", "logo.svg")); err != nil || string(b) != "<svg/>" {
		t.Errorf("public/logo.svg next to the link: %q, %v", b, err)
	}
	files, err := os.ReadFile(filepath.Join(rel, FilesPath))
	if err != nil || string(files) != string(tr.files().Marshal()) {
		t.Errorf("release %s keeps %q, %v as its file manifest; want the artifact's (a delta plans against it)", id, files, err)
	}
}

// Regression guard: a delta whose base links the shared entries takes
// nothing from the base there (cp would follow the links and copy the
// host's secret into the tree) and the verify does not fail on them.
func TestDeltaOverSharedLinks(t *testing.T) {
	l, root, h := newLocal(t)
	ctx := context.Background()
	if _, err := l.Preflight(ctx, h, "d1", "gz", time.Hour, []string{"public/uploads/"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "shared", ".env.production"), []byte("SECRET=from the host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	receiveWithShared(t, l, sharedTree("", "d1"), sharedManifest("d1", ""))
	if err := l.Switch(ctx, h, "d1"); err != nil {
		t.Fatal(err)
	}
	tr := sharedTree("", "d2").with(tree{"public/uploads/new-in-build.png": file644("n")})
	b, err := deltaBase(t, l, h, "d2")
	if err != nil || b == nil {
		t.Fatalf("DeltaBase = %v, %v", b, err)
	}
	d := b.Plan(tr.files(), tr.holding("d2"))
	pay, sum := tr.artifact(t, func(p string) bool { return d.Send[p] })
	full, fullSum := tr.artifact(t, nil)
	m := sharedManifest("d2", "")
	m.SHA256, m.Bytes = fullSum, int64(len(full))
	got, err := l.Receive(ctx, h, Upload{
		Manifest: m, Format: "gz", Files: tr.files(),
		Payload: bytes.NewReader(pay), PayloadBytes: int64(len(pay)), PayloadSHA256: sum,
		Base: b.ID, Edit: d.Edit, Derive: d.Derive,
	})
	if err != nil || !got.Made {
		t.Fatalf("delta over a base with shared links = %+v, %v", got, err)
	}
	if err := l.Switch(ctx, h, "d2"); err != nil {
		t.Fatal(err)
	}
	checkShared(t, root, "d2", "", tr)
	if _, err := os.Stat(filepath.Join(root, "shared", "public", "uploads", "new-in-build.png")); !os.IsNotExist(err) {
		t.Errorf("the build's upload reached the host's shared folder: %v", err)
	}
}
