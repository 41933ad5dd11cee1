package remote

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a host whose key known_hosts does not vouch for. Nothing
// was sent to it beyond the key exchange.
type HostKeyError struct {
	// Host names the connection: "deploy@10.0.0.5:22".
	Host string
	// Addr is the address looked up in known_hosts: "10.0.0.5:22".
	Addr string
	// Changed is true when known_hosts has other keys for the host, false
	// when it has none (an unknown host).
	Changed bool
	// Revoked is true when the key is marked @revoked in known_hosts.
	Revoked bool
	// Got is the SHA256 fingerprint of the key the server offered.
	Got string
	// Want are the SHA256 fingerprints known_hosts has for the host.
	Want []string
}

func (e *HostKeyError) Error() string {
	switch {
	case e.Revoked:
		return fmt.Sprintf("host key %s of %s is marked @revoked in known_hosts: refusing to connect", e.Got, e.Host)
	case e.Changed:
		return fmt.Sprintf("host key of %s changed: got %s, known_hosts has %s; if the server was reinstalled, update known_hosts",
			e.Host, e.Got, strings.Join(e.Want, ", "))
	default:
		return fmt.Sprintf("host %s is not in known_hosts (it offered %s): add its key (%s, verified out of band)",
			e.Addr, e.Got, keyscan(e.Addr))
	}
}

// ErrorHost names the host whose key was refused (for the Face's --json).
func (e *HostKeyError) ErrorHost() string { return e.Host }

// keyscan is the command that fetches the keys of addr.
func keyscan(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "ssh-keyscan " + addr
	}
	if port == "22" {
		return "ssh-keyscan " + host
	}
	return "ssh-keyscan -p " + port + " " + host
}

// hostKeys checks host keys against known_hosts. knownhosts does the
// matching (hashed names, patterns, ports, @revoked, @cert-authority);
// this adds the algorithm selection and the messages.
type hostKeys struct {
	check ssh.HostKeyCallback
	// probe is a key no host has: checking it against an address makes
	// knownhosts list every key it holds for that address.
	probe ssh.PublicKey
}

// loadHostKeys reads known_hosts content and/or a file. Every bad line is
// reported, naming the source and line.
func loadHostKeys(content []byte, file string) (*hostKeys, error) {
	if len(bytes.TrimSpace(content)) == 0 && file == "" {
		return nil, errors.New("no known_hosts given: host keys are always verified; pass known_hosts content or a file (ssh-keyscan output, verified out of band)")
	}
	var errs []error
	entries := 0
	if len(bytes.TrimSpace(content)) > 0 {
		n, err := checkKnownHosts(content, "known_hosts content")
		entries += n
		errs = append(errs, err)
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("known_hosts file: %w", err))
		} else {
			n, err := checkKnownHosts(data, "known_hosts file "+file)
			entries += n
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if entries == 0 {
		return nil, errors.New("known_hosts has no host keys: every host would be refused")
	}
	var files []string
	if file != "" {
		files = append(files, file)
	}
	check, err := newKnownHosts(content, files)
	if err != nil {
		return nil, err
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return &hostKeys{check: check, probe: probe}, nil
}

// checkKnownHosts parses every line of data so a bad one is reported with
// its line number, and counts the entries.
func checkKnownHosts(data []byte, source string) (int, error) {
	var errs []error
	n := 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if _, _, _, _, _, err := ssh.ParseKnownHosts(line); err != nil {
			errs = append(errs, fmt.Errorf("%s line %d: %w", source, i+1, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// newKnownHosts builds the knownhosts callback. knownhosts.New reads only
// named files, so content is handed over through a pipe opened by its
// /dev/fd name: it never touches the disk. Only where /dev/fd is missing
// does it fall back to a 0600 temporary file, removed at once (known_hosts
// is public data; the private key never takes this path).
func newKnownHosts(content []byte, files []string) (ssh.HostKeyCallback, error) {
	if len(bytes.TrimSpace(content)) == 0 {
		cb, err := knownhosts.New(files...)
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		return cb, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("known_hosts content: %w", err)
	}
	go func() {
		w.Write(content) // fails only when the reader gave up
		w.Close()
	}()
	name := "/dev/fd/" + strconv.Itoa(int(r.Fd()))
	cb, err := knownhosts.New(append(slices.Clone(files), name)...)
	r.Close()
	if err == nil {
		return cb, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	f, err := os.CreateTemp("", "next-deploy-known_hosts-*")
	if err != nil {
		return nil, fmt.Errorf("known_hosts content: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("known_hosts content: %w", err)
	}
	cb, err = knownhosts.New(append(slices.Clone(files), f.Name())...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	return cb, nil
}

// known returns the keys known_hosts holds for addr (host:port).
func (k *hostKeys) known(addr string) []ssh.PublicKey {
	var ke *knownhosts.KeyError
	if !errors.As(k.check(addr, zeroAddr, k.probe), &ke) {
		return nil
	}
	keys := make([]ssh.PublicKey, 0, len(ke.Want))
	for _, w := range ke.Want {
		keys = append(keys, w.Key)
	}
	return keys
}

var zeroAddr = &net.TCPAddr{IP: net.IPv4zero}

// algorithms is ClientConfig.HostKeyAlgorithms for addr: only the
// algorithms of the keys known_hosts holds for it. Without this a server
// with keys of several types may present one we have no entry for, and a
// good host would be reported as changed. Nil (the library's defaults,
// certificates included) when known_hosts has no plain key for addr.
func (k *hostKeys) algorithms(addr string) []string {
	return algorithmsFor(k.known(addr))
}

func algorithmsFor(keys []ssh.PublicKey) []string {
	have := map[string]bool{}
	for _, key := range keys {
		have[key.Type()] = true
	}
	supported := ssh.SupportedAlgorithms().HostKeys
	var out []string
	add := func(algos ...string) {
		for _, a := range algos {
			if slices.Contains(supported, a) && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	// Preference order first, then any other known type the library
	// supports. An "ssh-rsa" key is used with SHA-2 signatures only.
	for _, t := range []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSA} {
		if !have[t] {
			continue
		}
		delete(have, t)
		if t == ssh.KeyAlgoRSA {
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
			continue
		}
		add(t)
	}
	rest := make([]string, 0, len(have))
	for t := range have {
		rest = append(rest, t)
	}
	slices.Sort(rest)
	add(rest...)
	return out
}

// callback verifies the key of the host named name at addr, turning
// knownhosts' verdicts into a *HostKeyError.
func (k *hostKeys) callback(name, addr string) ssh.HostKeyCallback {
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		err := k.check(addr, remote, key)
		if err == nil {
			return nil
		}
		e := &HostKeyError{Host: name, Addr: addr, Got: ssh.FingerprintSHA256(key)}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			e.Revoked = true
		case errors.As(err, &ke):
			for _, w := range ke.Want {
				if fp := ssh.FingerprintSHA256(w.Key); !slices.Contains(e.Want, fp) {
					e.Want = append(e.Want, fp)
				}
			}
			e.Changed = len(e.Want) > 0
		default:
			// A host certificate that failed (wrong authority, expired).
			return fmt.Errorf("host certificate of %s: %w", name, err)
		}
		return e
	}
}
