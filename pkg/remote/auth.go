package remote

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"slices"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// loadKey parses the private key of c, from content or a file, with its
// passphrase. The key stays in memory: it is never written anywhere and
// no message quotes it.
func loadKey(c SSHConfig) (ssh.Signer, error) {
	hasContent := len(bytes.TrimSpace(c.Key)) > 0
	switch {
	case hasContent && c.KeyFile != "":
		return nil, errors.New("private key given both as content and as a file: give one")
	case !hasContent && c.KeyFile == "":
		if len(c.Passphrase) > 0 {
			return nil, errors.New("passphrase given but no private key")
		}
		return nil, nil
	}
	source, data := "private key content", c.Key
	if c.KeyFile != "" {
		source = "private key file " + c.KeyFile
		b, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("private key file: %w", err)
		}
		data = b
		defer clear(b)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing) && len(c.Passphrase) == 0:
		return nil, lockedError{fmt.Errorf("%s is encrypted and no passphrase was given", source)}
	case errors.As(err, &missing):
		signer, err = ssh.ParsePrivateKeyWithPassphrase(data, c.Passphrase)
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, lockedError{fmt.Errorf("%s: the passphrase does not decrypt it", source)}
		}
	}
	if err != nil {
		// The parser's messages name formats and types, never key bytes.
		return nil, fmt.Errorf("%s: not a usable private key (want OpenSSH or PEM format): %w", source, err)
	}
	return signer, nil
}

// lockedError is a key that is encrypted and that the passphrase given
// (if any) does not open.
type lockedError struct{ error }

func (e lockedError) Unwrap() error { return e.error }

// keyFiles loads the key files of SSHConfig.IdentityFiles and PerHost,
// each once, with the passphrase. With the agent on, a locked one is left
// out: the agent may hold it, as ssh(1) would also use it.
type keyFiles struct {
	passphrase []byte
	agent      bool
	loaded     map[string]ssh.Signer // nil: left out
	errs       []error
}

func newKeyFiles(c SSHConfig) *keyFiles {
	return &keyFiles{passphrase: c.Passphrase, agent: c.Agent, loaded: map[string]ssh.Signer{}}
}

// load gives the signers of files, noting the errors.
func (k *keyFiles) load(files []string) []ssh.Signer {
	var out []ssh.Signer
	for _, f := range files {
		s, seen := k.loaded[f]
		if !seen {
			var err error
			s, err = loadKey(SSHConfig{KeyFile: f, Passphrase: k.passphrase})
			var locked lockedError
			switch {
			case err == nil, errors.Is(err, fs.ErrNotExist):
				// ssh(1) too skips an IdentityFile that is not there.
			case k.agent && errors.As(err, &locked):
			default:
				k.errs = append(k.errs, err)
			}
			k.loaded[f] = s
		}
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// agentSocket is the ssh-agent socket to use, or "" when c asks for none.
func agentSocket(c SSHConfig) (string, error) {
	if !c.Agent {
		return "", nil
	}
	sock := c.AgentSocket
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock == "" {
		return "", errors.New("ssh-agent asked for but SSH_AUTH_SOCK is not set")
	}
	fi, err := os.Stat(sock)
	if err != nil {
		return "", fmt.Errorf("ssh-agent: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return "", fmt.Errorf("ssh-agent: %s is not a socket", sock)
	}
	return sock, nil
}

// auth is the one publickey method of a connection: the configured key,
// then the agent's keys. One method, because the client tries each method
// name once: a second "publickey" method would never run. The returned
// closer ends the agent connection once the handshake is over.
func (d *Dialer) auth(keys []ssh.Signer) (ssh.AuthMethod, io.Closer) {
	var conn net.Conn
	m := ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		signers := slices.Clone(keys)
		if d.agentSock == "" {
			return signers, nil
		}
		c, err := net.Dial("unix", d.agentSock)
		if err != nil {
			if len(signers) > 0 {
				return signers, nil
			}
			return nil, fmt.Errorf("ssh-agent: %w", err)
		}
		conn = c
		s, err := agent.NewClient(c).Signers()
		if err != nil && len(signers) == 0 {
			return nil, fmt.Errorf("ssh-agent: %w", err)
		}
		return append(signers, s...), nil
	})
	return m, closerFunc(func() error {
		if conn != nil {
			return conn.Close()
		}
		return nil
	})
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
