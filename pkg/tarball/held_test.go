package tarball

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/org/next-deploy/pkg/release"
)

func TestListHoldingKeepsWhatHoldAccepts(t *testing.T) {
	art := tarOf(t, dir("d/"), file("d/a.js", "x /r2/_next"), file("d/b.js", "no id"), file("skip/c.js", "r2"),
		file("big.js", "r2 "+strings.Repeat("x", 100)), file("d/e.js", "r2 again"), symlink("d/l", "a.js"))
	h := Hold{Max: 30, Keep: func(name string, _ int64) bool { return !strings.HasPrefix(name, "skip/") }}
	files, _, held, err := ListHolding(context.Background(), bytes.NewReader(art), release.Plain, h)
	must(t, err)
	var got []string
	for name, b := range held.Content {
		got = append(got, name+"="+string(b))
	}
	slices.Sort(got)
	// big.js would go over Max; skip/ is not kept.
	if want := []string{"d/a.js=x /r2/_next", "d/b.js=no id", "d/e.js=r2 again"}; !slices.Equal(got, want) {
		t.Errorf("held %q, want %q", got, want)
	}
	got = got[:0]
	for name := range held.Holding([]byte("r2")) {
		got = append(got, name)
	}
	slices.Sort(got)
	if want := []string{"d/a.js", "d/e.js"}; !slices.Equal(got, want) {
		t.Errorf("holding r2: %q, want %q", got, want)
	}
	plain, _, err := List(context.Background(), bytes.NewReader(art), release.Plain)
	must(t, err)
	if string(files.Marshal()) != string(plain.Marshal()) {
		t.Errorf("ListHolding's manifest\n%s\ndiffers from List's\n%s", files.Marshal(), plain.Marshal())
	}
}

// A payload made from memory is the payload read from the archive, byte
// for byte; a file that was not held sends the caller to the archive.
func TestHeldSubsetIsSubset(t *testing.T) {
	art := tarOf(t, dir("d/"), file("d/a.js", "aaa"), file("d/b.js", "bbb"), file("d/empty", ""), symlink("d/l", "a.js"), file("n/x.js", "xxx"))
	_, _, held, err := ListHolding(context.Background(), bytes.NewReader(art), release.Plain,
		Hold{Max: 1 << 20, Keep: func(name string, _ int64) bool { return strings.HasPrefix(name, "d/") }})
	must(t, err)
	for _, keep := range []func(string) bool{
		func(n string) bool { return n == "d/b.js" },
		func(n string) bool { return n == "d/b.js" || n == "d/empty" },
		func(string) bool { return false },
	} {
		var want, got bytes.Buffer
		wn, err := Subset(context.Background(), bytes.NewReader(art), release.Plain, &want, keep)
		must(t, err)
		gn, ok, err := held.Subset(&got, release.Plain, keep)
		must(t, err)
		if !ok || gn != wn || !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("held.Subset = %d files, ok %v, %d bytes; want Subset's %d files, %d bytes, the same", gn, ok, got.Len(), wn, want.Len())
		}
	}
	var out bytes.Buffer
	if _, ok, err := held.Subset(&out, release.Plain, func(n string) bool { return n == "n/x.js" }); ok || err != nil || out.Len() != 0 {
		t.Errorf("held.Subset of a file not held: ok %v, %v, wrote %d bytes; want not ok and nothing written", ok, err, out.Len())
	}
}

// Every file's hash is its content's, however it was hashed: kept,
// pooled, or as it was read (larger than hashInline).
func TestListHoldingHashesEveryFile(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", (hashInline+4096)/16)
	entries := []entry{file("a/big.bin", big), file("a/kept-big.bin", big+"k"), file("a/empty", "")}
	for i := range 300 {
		entries = append(entries, file(fmt.Sprintf("f/%03d.js", i), strings.Repeat("x", i*37)))
	}
	art := tarOf(t, entries...)
	files, _, held, err := ListHolding(context.Background(), bytes.NewReader(art), release.Plain,
		Hold{Max: 1 << 30, Keep: func(name string, _ int64) bool { return name == "a/kept-big.bin" || strings.HasSuffix(name, "0.js") }})
	must(t, err)
	bodies := map[string]string{}
	for _, e := range entries {
		bodies[e.name] = e.body
	}
	n := 0
	for _, e := range files {
		if e.Type != release.TypeFile {
			continue
		}
		n++
		s := sha256.Sum256([]byte(bodies[e.Path]))
		if want := hex.EncodeToString(s[:]); e.Data != want {
			t.Errorf("%s: hash %s, want %s", e.Path, e.Data, want)
		}
	}
	if n != len(entries) || string(held.Content["a/kept-big.bin"]) != big+"k" || len(held.Content) != 31 {
		t.Errorf("%d files listed, %d held; want %d, 31 (kept-big.bin and f/*0.js)", n, len(held.Content), len(entries))
	}
}
