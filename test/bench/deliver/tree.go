package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/org/next-deploy/test/bench/benchkit"
)

// defaultNPM is what -npm default installs: a node_modules of ~100 MB in
// ~14,000 files (175 packages, npm 11, optional dependencies left out),
// the many small files of a real package tree.
const defaultNPM = "date-fns@3 rxjs@7 lodash@4 typescript@5 webpack@5 eslint@9 @babel/core@7"

// pickTree is the tree to deliver: the packages of npm installed into tmp,
// else the one given (a folder without server.js is shipped as the
// node_modules of a standalone tree in tmp), else the fixture's standalone
// build when it has a server.js, else a synthetic one in tmp.
func pickTree(ctx context.Context, given, npm, tmp string) (dir, desc string, err error) {
	switch {
	case npm != "":
		if npm == "default" {
			npm = defaultNPM
		}
		args := append([]string{"install", "--prefix", tmp, "--no-save", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=optional"}, strings.Fields(npm)...)
		if _, err := benchkit.Command(ctx, "npm", args...); err != nil {
			return "", "", err
		}
		return tmp, "node_modules of npm install " + npm, standalone(tmp)
	case given != "":
		if _, err := os.Stat(filepath.Join(given, "server.js")); err == nil {
			return given, given, nil
		}
		if _, err := benchkit.Command(ctx, "cp", "-a", given, filepath.Join(tmp, "node_modules")); err != nil {
			return "", "", err
		}
		return tmp, given + " as node_modules", standalone(tmp)
	}
	_, self, _, _ := runtime.Caller(0)
	fixture := filepath.Clean(filepath.Join(self, "../../../fixtures/next-app/.next/standalone"))
	if _, err := os.Stat(filepath.Join(fixture, "server.js")); err == nil {
		return fixture, fixture, nil
	}
	return tmp, "synthetic (fixture not built)", synth(tmp)
}

// standalone makes dir, which holds a node_modules, a tree pack takes: a
// server.js, a package.json and a static chunk beside it.
func standalone(dir string) error {
	for name, body := range map[string]string{
		"server.js":                "require('next')\n",
		"package.json":             `{"name":"bench","private":true}` + "\n",
		".next/BUILD_ID":           "bench\n",
		".next/static/chunks/a.js": "a()\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
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
