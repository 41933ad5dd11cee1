package remote_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/remote"
)

const laptopConfig = `# an operator's ~/.ssh/config
User nobody-before-host
Host web? !web9
  HostName %h.internal.example.com
  Port 2201
  IdentityFile ~/.ssh/web_ed25519
Host web*
  Port 9999
  User deploy
  IdentityFile=%d/.ssh/second
Host db
  HostName "10.0.0.9"
  ProxyJump bastion
Host bastion
  HostName 203.0.113.7
  User jumper
  Port 2222
Match host legacy
  User root
Include conf.d/*
Host *
  ServerAliveInterval 30
`

func parseLaptop(t *testing.T) *remote.ClientConfig {
	t.Helper()
	c, err := remote.ParseClientConfig("ssh_config", []byte(laptopConfig))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientConfigLookup(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	c := parseLaptop(t)
	for _, tc := range []struct {
		alias string
		want  remote.HostConfig
	}{
		// The first value wins; IdentityFile adds up; lines before the
		// first Host apply to every host.
		{"web1", remote.HostConfig{HostName: "web1.internal.example.com", User: "nobody-before-host", Port: 2201,
			IdentityFiles: []string{"~/.ssh/web_ed25519", "%d/.ssh/second"}}},
		// !web9 keeps the first block away; web* still matches.
		{"web9", remote.HostConfig{User: "nobody-before-host", Port: 9999, IdentityFiles: []string{"%d/.ssh/second"}}},
		{"db", remote.HostConfig{HostName: "10.0.0.9", User: "nobody-before-host", ProxyJump: "bastion"}},
		// Match blocks are skipped.
		{"legacy", remote.HostConfig{User: "nobody-before-host"}},
	} {
		got := c.Lookup(tc.alias)
		if got.HostName != tc.want.HostName || got.User != tc.want.User || got.Port != tc.want.Port ||
			got.ProxyJump != tc.want.ProxyJump || !slices.Equal(got.IdentityFiles, tc.want.IdentityFiles) {
			t.Errorf("Lookup(%s) = %+v, want %+v", tc.alias, got, tc.want)
		}
	}
	if want := []string{"ssh_config:18: Match is not supported: its block is skipped", "ssh_config:20: Include is not followed"}; !slices.Equal(c.Notes, want) {
		t.Errorf("notes %q, want %q", c.Notes, want)
	}
}

func TestClientConfigBadPortNamesLine(t *testing.T) {
	_, err := remote.ParseClientConfig("cfg", []byte("Host a\n  Port ssh\n"))
	if err == nil || err.Error() != `cfg:2: Port "ssh": want 1-65535` {
		t.Errorf("got %v", err)
	}
}

func TestClientConfigApply(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	c, err := remote.ParseClientConfig("ssh_config", []byte(strings.Replace(laptopConfig, "User nobody-before-host\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := inventory.Parse("web1 ops@web2:22 db local unknown")
	if err != nil {
		t.Fatal(err)
	}
	got, per, err := c.Apply(ts, remote.ApplyOptions{DefaultUser: "me"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, g.String())
	}
	want := []string{
		"deploy@web1.internal.example.com:2201", // HostName, Port, User of the config
		"ops@web2.internal.example.com:22",      // the entry's user and port win
		"me@10.0.0.9:22",                        // no User: the default
		"local",
		"me@unknown:22",
	}
	if !slices.Equal(names, want) {
		t.Errorf("targets\n got %q\nwant %q", names, want)
	}
	web1 := per["deploy@web1.internal.example.com:2201"]
	if want := []string{filepath.Join(home, ".ssh/web_ed25519"), home + "/.ssh/second"}; !slices.Equal(web1.KeyFiles, want) || web1.Jump != nil {
		t.Errorf("web1 options %+v, want keys %q", web1, want)
	}
	if j := per["me@10.0.0.9:22"].Jump; j == nil || j.String() != "jumper@203.0.113.7:2222" {
		t.Errorf("db's jump host = %v, want the bastion resolved through the file", j)
	}
	if _, ok := per["me@unknown:22"]; ok {
		t.Error("a host the file does not name got options")
	}

	// --user beats User; a key given beats IdentityFile; --jump beats ProxyJump.
	got, per, _ = c.Apply(ts, remote.ApplyOptions{User: "cli", DefaultUser: "me", KeyGiven: true, JumpGiven: true})
	if got[0].User != "cli" || len(per) != 0 {
		t.Errorf("given otherwise: %v %+v", got[0], per)
	}

	c, _ = remote.ParseClientConfig("cfg", []byte("Host a\n  ProxyJump j1,j2\n"))
	a, _ := inventory.Parse("a")
	if _, _, err := c.Apply(a, remote.ApplyOptions{}); err == nil || !strings.HasPrefix(err.Error(), `cfg:2: ProxyJump "j1,j2" of a: more than one hop`) {
		t.Errorf("a two-hop ProxyJump: %v", err)
	}
}

// The key file a client config names for one host logs in to it, while
// the Dialer's own key (here: one the server refuses) is used elsewhere;
// the jump host comes from it too.
func TestPerHostKeysAndJump(t *testing.T) {
	key, pub := newClientKey(t, "")
	wrong, _ := newClientKey(t, "")
	dest := newTestServer(t, []ssh.PublicKey{pub})
	jump := newTestServer(t, []ssh.PublicKey{pub})
	keyFile := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	d := target(t, "deploy@"+dest.Addr)
	j := target(t, "bastion@"+jump.Addr)
	cfg := remote.SSHConfig{
		KnownHosts:  []byte(dest.KnownHostsLine() + "\n" + jump.KnownHostsLine() + "\n"),
		Key:         wrong,
		DefaultUser: "deploy",
		PerHost:     map[string]remote.HostOptions{d.String(): {KeyFiles: []string{keyFile, filepath.Join(t.TempDir(), "absent")}, Jump: &j}},
	}
	h := dial(t, dialer(t, cfg), d.String())
	if _, err := h.Run(context.Background(), remote.Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	if jump.Logins.Load() != 1 || dest.Logins.Load() != 1 {
		t.Errorf("logins: jump %d, target %d; want 1 and 1", jump.Logins.Load(), dest.Logins.Load())
	}
	cfg.PerHost = nil
	if _, err := dialer(t, cfg).Dial(context.Background(), d); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("without the host's key file: %v, want a refused login", err)
	}
}

// An operator with no key given and no agent: ~/.ssh/id_* are offered
// (IdentityFiles); one the passphrase does not open is an error naming it.
func TestIdentityFiles(t *testing.T) {
	s, cfg := setup(t)
	key := cfg.Key
	dir := t.TempDir()
	id := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(id, key, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Key, cfg.IdentityFiles = nil, []string{id}
	h := dial(t, dialer(t, cfg), s.Addr)
	if _, err := h.Run(context.Background(), remote.Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	locked, _ := newClientKey(t, "secret")
	lockedFile := filepath.Join(dir, "id_rsa")
	if err := os.WriteFile(lockedFile, locked, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.IdentityFiles = append(cfg.IdentityFiles, lockedFile)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), lockedFile+" is encrypted") {
		t.Errorf("locked identity file: %v", err)
	}
}
