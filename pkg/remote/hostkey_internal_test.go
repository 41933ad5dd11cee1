package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestHostKeyAlgorithms(t *testing.T) {
	mk := func(typ string) ssh.PublicKey { return fakeKey(typ) }
	for _, tc := range []struct {
		name string
		keys []ssh.PublicKey
		want []string
	}{
		{"none", nil, nil},
		{"ed25519", []ssh.PublicKey{mk(ssh.KeyAlgoED25519)}, []string{ssh.KeyAlgoED25519}},
		{"rsa uses sha2 only", []ssh.PublicKey{mk(ssh.KeyAlgoRSA)}, []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}},
		{"preference order", []ssh.PublicKey{mk(ssh.KeyAlgoRSA), mk(ssh.KeyAlgoECDSA256), mk(ssh.KeyAlgoED25519)},
			[]string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}},
		//lint:ignore SA1019 the test proves that a deprecated DSA key is never offered
		{"dsa is not offered", []ssh.PublicKey{mk(ssh.InsecureKeyAlgoDSA)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := algorithmsFor(tc.keys)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// fakeKey is a public key of the type typ, for algorithm selection only.
type fakeKey string

func (k fakeKey) Type() string                        { return string(k) }
func (k fakeKey) Marshal() []byte                     { return []byte(k) }
func (k fakeKey) Verify([]byte, *ssh.Signature) error { return nil }
func (k fakeKey) String() string                      { return string(k) }

func TestTailWriter(t *testing.T) {
	w := &tailWriter{max: 5}
	w.Write([]byte("abc"))
	w.Write([]byte("defgh"))
	if got := w.String(); got != "defgh" {
		t.Errorf("got %q, want %q", got, "defgh")
	}
}

// known_hosts content goes to knownhosts through a pipe, not a file: with
// no usable temporary directory it still loads.
func TestKnownHostsContentNeedsNoDisk(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	pub, _ := ssh.NewPublicKey(ed25519Pub(t))
	line := "example.com " + string(ssh.MarshalAuthorizedKey(pub))
	hk, err := loadHostKeys([]byte(line), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := hk.known("example.com:22"); len(got) != 1 {
		t.Errorf("known keys for example.com: %v, want 1", got)
	}
	if got := hk.known("example.com:2222"); len(got) != 0 {
		t.Errorf("known keys for example.com:2222: %v, want none", got)
	}
}

func ed25519Pub(t *testing.T) ed25519.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
