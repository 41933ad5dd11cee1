package tarball

import "testing"

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
