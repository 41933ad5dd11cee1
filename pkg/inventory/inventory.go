// Package inventory owns the list of target hosts: parsing the --hosts value
// ([user@]host[:port] entries, the word "local", IPv6 in brackets) into
// Targets, and refusing anything ambiguous before a host is touched.
package inventory

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// DefaultPort is the SSH port used when an entry names none.
const DefaultPort = 22

// Target is one host of the fleet.
type Target struct {
	// Local is true for the word "local": the runner itself, no SSH.
	Local bool
	// User is the login name; empty means the caller's default.
	User string
	// Host is a host name or an IP address (IPv6 without brackets).
	Host string
	// Port is the SSH port.
	Port int
	// Entry is the text the target was parsed from, for messages.
	Entry string
	// AppHostname and AppPort, when set, are where this host's app
	// listens instead of the fleet's --hostname and --port: a host of
	// next-deploy.yml may override them (app_hostname, app_port).
	AppHostname string
	AppPort     int
}

// String gives the canonical form: "local", "user@host:port", "[::1]:22".
func (t Target) String() string {
	if t.Local {
		return "local"
	}
	s := t.Addr()
	if t.User != "" {
		s = t.User + "@" + s
	}
	return s
}

// Addr is host:port, with IPv6 hosts in brackets.
func (t Target) Addr() string {
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// PortGiven reports whether the entry named the SSH port (host:port), as
// opposed to the default: an OpenSSH client config's Port applies only
// when it did not.
func (t Target) PortGiven() bool {
	if t.Local {
		return false
	}
	rest := t.Entry
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		return strings.Contains(rest, "]:")
	}
	return strings.Contains(rest, ":")
}

// WithUser returns t with its user set to user when it has none.
func (t Target) WithUser(user string) Target {
	if t.User == "" && !t.Local {
		t.User = user
	}
	return t
}

// key is what makes two entries the same host.
func (t Target) key() string {
	if t.Local {
		return "local"
	}
	return strings.ToLower(t.User) + "@" + strings.ToLower(t.Addr())
}

// EntryError is an input error about one entry of --hosts.
type EntryError struct {
	Entry  string
	Reason string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("hosts entry %q: %s", e.Entry, e.Reason)
}

// Errors of this package wrap ErrInvalid so callers can map them to exit 2.
var ErrInvalid = errors.New("invalid hosts")

func (e *EntryError) Unwrap() error { return ErrInvalid }

var (
	userRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]{0,31}$`)
	// A DNS name or IPv4 address: labels of letters, digits and hyphens.
	nameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)
)

// Parse reads a --hosts value: entries separated by commas, spaces or
// newlines. Every bad entry is reported, joined, each naming the entry.
func Parse(s string) ([]Target, error) {
	var (
		out  []Target
		errs []error
		seen = map[string]string{}
	)
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue // blank lines are layout, not entries
		}
		for entry := range strings.SplitSeq(line, ",") {
			fields := strings.Fields(entry)
			if len(fields) == 0 {
				errs = append(errs, &EntryError{Entry: line, Reason: "empty entry (two commas in a row, or a trailing comma)"})
				continue
			}
			for _, f := range fields {
				t, err := ParseEntry(f)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if prev, dup := seen[t.key()]; dup {
					errs = append(errs, &EntryError{Entry: f, Reason: fmt.Sprintf("duplicate of %q", prev)})
					continue
				}
				seen[t.key()] = f
				out = append(out, t)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no hosts given (want [user@]host[:port] entries or \"local\")", ErrInvalid)
	}
	return out, nil
}

// ParseEntry reads one [user@]host[:port] entry or the word "local".
func ParseEntry(entry string) (Target, error) {
	bad := func(reason string) (Target, error) {
		return Target{}, &EntryError{Entry: entry, Reason: reason}
	}
	if entry == "local" {
		return Target{Local: true, Entry: entry}, nil
	}
	t := Target{Port: DefaultPort, Entry: entry}
	rest := entry
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		t.User, rest = rest[:i], rest[i+1:]
		if !userRe.MatchString(t.User) {
			return bad("bad user name (letters, digits, '.', '_', '-'; not starting with a digit)")
		}
	}
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.Index(rest, "]")
		if end < 0 {
			return bad("unclosed '[' around an IPv6 address")
		}
		t.Host = rest[1:end]
		ip := net.ParseIP(t.Host)
		if ip == nil || ip.To4() != nil && !strings.Contains(t.Host, ":") {
			return bad("not an IPv6 address inside [ ]")
		}
		rest = rest[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return bad("unexpected text after ']' (want [addr]:port)")
			}
			p, err := parsePort(rest[1:])
			if err != nil {
				return bad(err.Error())
			}
			t.Port = p
		}
	case strings.Count(rest, ":") > 1:
		return bad("an IPv6 address must be in brackets, e.g. [2001:db8::1]:22")
	default:
		host, port, hasPort := strings.Cut(rest, ":")
		t.Host = host
		if hasPort {
			p, err := parsePort(port)
			if err != nil {
				return bad(err.Error())
			}
			t.Port = p
		}
		if t.Host == "" {
			return bad("missing host name")
		}
		if !nameRe.MatchString(t.Host) {
			return bad("not a host name or IP address")
		}
	}
	return t, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("bad port %q (want 1-65535)", s)
	}
	return p, nil
}
