package deliver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/archive"
	"github.com/org/next-deploy/pkg/deliver"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/release"
	"github.com/org/next-deploy/pkg/remote"
)

// Shared files on the runner itself (a local host): the preflight refuses
// a host that lacks one, naming it and the fix, before anything is sent;
// once it is there, the release links it in place of the artifact's copy,
// which SharedInside names for the warning. A release the host already
// held is not changed: the entries it was delivered without are named.
func TestDeliverLinksShared(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"server.js":                "// s1\n",
		".next/static/chunks/a.js": "a",
		".env.production":          "SECRET=from the checkout\n",
		"uploads/a.png":            "png",
	})
	res, err := archive.Pack(ctx, archive.Options{Source: src, Release: "s1", Format: release.Gzip, Level: 1, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a, id, err := deliver.Inspect(ctx, res.Artifact, "")
	if err != nil {
		t.Fatal(err)
	}
	shared := []string{".env.production", "uploads/"}
	if got, want := a.SharedInside(shared), []string{".env.production", "uploads"}; !slices.Equal(got, want) {
		t.Errorf("SharedInside = %q, want %q", got, want)
	}
	root := filepath.Join(t.TempDir(), "app")
	layout := release.Layout{Root: root}
	local := []inventory.Target{{Local: true}}
	pool := remote.NewPool(nil)
	defer pool.Close()
	o := deliver.Options{Release: id, Shared: shared}

	rs, err := deliver.Run(ctx, pool, local, layout, a, o)
	envFile := filepath.Join(root, "shared", ".env.production")
	if !errors.Is(err, deliver.ErrPreflight) || !strings.Contains(rs[0].Error, "shared "+envFile+" on local: missing: create "+envFile+" on local") {
		t.Fatalf("deliver without the shared file = %v, %q; want a preflight failure naming the file, the host and the fix", err, rs[0].Error)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", id)); !os.IsNotExist(err) {
		t.Errorf("release %s exists after a refused preflight: %v", id, err)
	}
	if err := os.WriteFile(envFile, []byte("SECRET=from the host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rs, err = deliver.Run(ctx, pool, local, layout, a, o); err != nil || rs[0].State != deliver.Delivered {
		t.Fatalf("deliver with the shared file there = %+v, %v", rs, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "releases", id, ".env.production")); err != nil || string(b) != "SECRET=from the host\n" {
		t.Errorf("the release's .env.production reads %q, %v; want the host's", b, err)
	}
	o.Shared = append(shared, "data/")
	rs, err = deliver.Run(ctx, pool, local, layout, a, o)
	if err != nil || rs[0].State != deliver.AlreadyDelivered || !slices.Equal(rs[0].Unlinked, []string{"data/"}) {
		t.Errorf("deliver again with one more entry = %+v, %v; want already delivered, data/ unlinked", rs, err)
	}
}
