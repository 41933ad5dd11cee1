package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// pickTree is the tree to deliver: the one given, else the fixture's
// standalone build when it has a server.js, else a synthetic one in tmp.
func pickTree(given, tmp string) (dir, desc string, err error) {
	if given != "" {
		_, err := os.Stat(filepath.Join(given, "server.js"))
		return given, given, err
	}
	_, self, _, _ := runtime.Caller(0)
	fixture := filepath.Clean(filepath.Join(self, "../../../fixtures/next-app/.next/standalone"))
	if _, err := os.Stat(filepath.Join(fixture, "server.js")); err == nil {
		return fixture, fixture, nil
	}
	return tmp, "synthetic (fixture not built)", synth(tmp)
}

// synth writes a tree shaped like a standalone build: server.js, .next
// pages and chunks, and 1500 node_modules files, about 40 MB of text that
// compresses like JavaScript. Seeded: the same bytes every time.
func synth(dir string) error {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("function return const let this exports require undefined null typeof props children value options length prototype Object Array Promise async await module")
	for range 600 {
		b := make([]byte, 3+rng.IntN(10))
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		words = append(words, string(b))
	}
	lines := strings.Split("function %s(%s, %s) {|  const %s = %s.%s(%s, 0);|  if (%s !== %s) return %s[\"%s\"];|  %s: \"%s %s %s\",|}|module.exports.%s = %s;|  return %s.%s(%s);", "|")
	type file struct {
		name string
		size int
	}
	files := []file{{"server.js", 6 << 10}, {"package.json", 1 << 10}, {".next/BUILD_ID", 21}}
	for i := range 40 {
		files = append(files, file{fmt.Sprintf(".next/server/app/page%d.js", i), 20<<10 + rng.IntN(60<<10)},
			file{fmt.Sprintf(".next/static/chunks/%08x.js", rng.Uint32()), 10<<10 + rng.IntN(100<<10)})
	}
	for i := range 1500 {
		files = append(files, file{fmt.Sprintf("node_modules/pkg%d/dist/%s%d.js", i%120, words[rng.IntN(len(words))], i), 200 + int(rng.ExpFloat64()*26000)})
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(out)
		for n := 0; n < f.size; {
			l := lines[rng.IntN(len(lines))]
			args := make([]any, strings.Count(l, "%s"))
			for i := range args {
				args[i] = words[rng.IntN(len(words))]
			}
			k, _ := fmt.Fprintf(w, l+"\n", args...)
			n += k
		}
		if err := w.Flush(); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
	return nil
}

// countTree counts the regular files and their bytes as pack sees them:
// without .next/cache.
func countTree(dir string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p == filepath.Join(dir, ".next/cache"):
			return fs.SkipDir
		case !d.Type().IsRegular():
			return nil
		}
		fi, err := d.Info()
		if err == nil {
			files, bytes = files+1, bytes+fi.Size()
		}
		return err
	})
	return files, bytes, err
}
