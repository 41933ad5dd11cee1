package tarball

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestBinaryFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
		want bool
	}{
		{"node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so.8.18.7", 18 << 20, true},
		{"node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64-0.35.5.node", 400 << 10, true},
		{"lib/libfoo.so", 1 << 20, true},
		{"public/hero.PNG", 1 << 20, true},
		{"public/hero.png", 1 << 10, false}, // too small for frames of its own
		{"node_modules/next/dist/server/capsize-font-metrics.json", 4 << 20, false},
		{"node_modules/x/lib.so.js", 1 << 20, false},
		{"node_modules/x/so.8", 1 << 20, false},
	} {
		if got := binaryFile(tc.name, tc.size); got != tc.want {
			t.Errorf("binaryFile(%q, %d) = %v, want %v", tc.name, tc.size, got, tc.want)
		}
	}
}

// framesInput is text and binary pieces in stream order, from a seeded
// generator: JavaScript-like lines and noise.
type framesPiece struct {
	binary bool
	data   []byte
}

func framesInput(seed uint64, pieces, size int) []framesPiece {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []framesPiece
	for i := range pieces {
		p := framesPiece{binary: i%3 == 2}
		if p.binary {
			p.data = make([]byte, size/2)
			for j := range p.data {
				p.data[j] = byte(rng.Uint32())
			}
		} else {
			var b bytes.Buffer
			for b.Len() < size {
				fmt.Fprintf(&b, "export const f%d = (a) => a + %d; // %d\n", rng.IntN(500), rng.IntN(1000), i)
			}
			p.data = b.Bytes()
		}
		out = append(out, p)
	}
	return out
}

// smallFrames is zstdFrames at the default level's settings, scaled down
// so that a test crosses frames and the budget with little input.
var smallFrames = zstdFrames{level: zstd.SpeedBestCompression, after: zstd.SpeedBetterCompression,
	binary: zstd.SpeedDefault, frameSize: 64 << 10, bestSize: 24 << 10, budget: 100 << 10}

func writeFrames(t *testing.T, z zstdFrames, in []framesPiece) []byte {
	t.Helper()
	var out bytes.Buffer
	wc, err := z.OpenWriter(&out)
	must(t, err)
	f := wc.(*framesWriter)
	for _, p := range in {
		f.setBinary(p.binary)
		for d := p.data; len(d) > 0; { // writes of uneven sizes, as tar makes them
			k := min(len(d), 1000+len(d)%4099)
			if _, err := f.Write(d[:k]); err != nil {
				t.Fatal(err)
			}
			d = d[k:]
		}
	}
	must(t, f.Close())
	return out.Bytes()
}

// TestZstdFramesSameBytesOnAnyCoreCount guards the artifact's
// reproducibility: frames are compressed at once on every core, and
// where one ends and at which level must not depend on how many there
// are.
func TestZstdFramesSameBytesOnAnyCoreCount(t *testing.T) {
	in := framesInput(1, 9, 50<<10)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var want []byte
	for _, procs := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		got := writeFrames(t, smallFrames, in)
		if want == nil {
			want = got
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("GOMAXPROCS %d: %d bytes (sha256 %x), want %d bytes (sha256 %x) as with GOMAXPROCS 1",
				procs, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
		}
	}
}

// TestZstdFramesStepTextDownAfterBudget checks each frame's cut and
// level: text at the level's own in frames of bestSize until the budget
// is spent, then "better" in frames of frameSize; binaries in frames of
// their own at theirs.
func TestZstdFramesStepTextDownAfterBudget(t *testing.T) {
	in := framesInput(2, 9, 50<<10)
	got := writeFrames(t, smallFrames, in)

	encs := map[zstd.EncoderLevel]*zstd.Encoder{}
	for _, l := range []zstd.EncoderLevel{smallFrames.level, smallFrames.after, smallFrames.binary} {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderCRC(true), zstd.WithWindowSize(windowFor(smallFrames.frameSize)))
		must(t, err)
		encs[l] = enc
	}
	// The frames by hand: runs of text or binary, cut every frameSize.
	var want []byte
	var run []byte
	text, runBinary := smallFrames.level, false
	textIn := 0
	flush := func() {
		if len(run) == 0 {
			return
		}
		l := text
		if runBinary {
			l = smallFrames.binary
		}
		want = encs[l].EncodeAll(run, want)
		if !runBinary {
			if textIn += len(run); textIn >= int(smallFrames.budget) {
				text = smallFrames.after
			}
		}
		run = nil
	}
	for _, p := range in {
		if p.binary != runBinary {
			flush()
			runBinary = p.binary
		}
		for d := p.data; len(d) > 0; {
			limit := smallFrames.frameSize
			if !runBinary && text == smallFrames.level {
				limit = min(smallFrames.bestSize, int(smallFrames.budget)-textIn)
			}
			k := min(len(d), limit-len(run))
			run, d = append(run, d[:k]...), d[k:]
			if len(run) == limit {
				flush()
			}
		}
	}
	flush()
	if text != smallFrames.after {
		t.Fatalf("the input does not cross the budget of %d bytes", smallFrames.budget)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("frames differ: got %d bytes, want %d bytes", len(got), len(want))
	}
	dec, err := zstd.NewReader(nil)
	must(t, err)
	plain, err := dec.DecodeAll(got, nil)
	must(t, err)
	var all []byte
	for _, p := range in {
		all = append(all, p.data...)
	}
	if !bytes.Equal(plain, all) {
		t.Errorf("decoded %d bytes, want the %d written", len(plain), len(all))
	}
}

// The zstd command decodes frames of up to a 128 MiB window (window log
// 27) without --memory or --long; a larger one would make every host's
// `tar --zstd -x` fail.
func TestZstdWindowFitsTheZstdCommandsDefaultMemory(t *testing.T) {
	if got, limit := windowFor(ZstdFrameSize), 1<<27; got > limit {
		t.Errorf("window %d bytes for frames of %d, want at most %d", got, ZstdFrameSize, limit)
	}
}
