// Package remote owns how next-deploy reaches a server: one small interface
// to run a fixed POSIX sh script with quoted arguments and a stdin on a host,
// implemented over SSH (golang.org/x/crypto/ssh, host keys always verified)
// and for the runner itself ("local"). Every argument that reaches a shell
// goes through Quote; nothing else builds command lines.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// Cmd is a fixed script and the arguments it gets as $1..$n.
type Cmd struct {
	// Script is a POSIX sh script, a constant of the calling package. It
	// never contains input: inputs go in Args.
	Script string
	// Args are passed as positional parameters, each quoted by Quote.
	Args []string
	// Stdin, when set, is streamed to the script's standard input.
	Stdin io.Reader
	// Stdout and Stderr, when set, receive the script's output as it
	// comes; when nil it is collected into the Result.
	Stdout io.Writer
	Stderr io.Writer
}

// Result holds the output Run collected (for the streams with no writer).
type Result struct {
	Stdout []byte
	Stderr []byte
}

// Host is one connected server.
type Host interface {
	// Name identifies the host in messages: "deploy@10.0.0.5:22" or "local".
	Name() string
	// Run runs c on the host. A non-zero exit is an *ExitError.
	// Cancelling ctx ends the remote command. Its errors do not name the
	// host: every caller says what it ran on which host, once.
	Run(ctx context.Context, c Cmd) (*Result, error)
	// DialTCP opens a TCP connection from the host's side (direct-tcpip
	// over SSH), so health checks need no port open to the runner.
	DialTCP(ctx context.Context, addr string) (net.Conn, error)
	// Close ends the connection.
	Close() error
}

// Shell is the program every script runs under. Only POSIX sh is assumed
// on a server.
const Shell = "/bin/sh"

// scriptName is $0 of every script, so the server's process list and error
// messages say who ran it.
const scriptName = "next-deploy"

// CommandLine is the one place that turns a Cmd into a command line:
// sh -c '<script>' next-deploy '<arg1>' '<arg2>' ...
func CommandLine(c Cmd) string {
	var b strings.Builder
	b.WriteString(Shell)
	b.WriteString(" -c ")
	b.WriteString(Quote(c.Script))
	b.WriteString(" ")
	b.WriteString(scriptName)
	for _, a := range c.Args {
		b.WriteByte(' ')
		b.WriteString(Quote(a))
	}
	return b.String()
}

// Quote makes s one word for a POSIX shell, whatever it holds: it is put in
// single quotes, and every single quote in it is replaced by
//
//	'\''
//
// (close the quotes, an escaped quote, reopen). Inside single quotes no
// character is special, so nothing in s can be expanded or run. FuzzQuote
// proves it through a real sh.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ExitError is a script that ran and exited non-zero. Its message leaves
// out Host: the caller wraps it naming the host ("list releases in /app
// on local: exit status 1"), and a second "on local:" would repeat it.
type ExitError struct {
	Host   string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	// The last lines of stderr say what went wrong; keep the message short.
	lines := strings.Split(msg, "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return fmt.Sprintf("exit status %d: %s", e.Code, strings.Join(lines, "; "))
}

// ErrorHost names the host the script ran on (for the Face's --json).
func (e *ExitError) ErrorHost() string { return e.Host }

// ExitCode returns the exit status of a script that ran, or -1.
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}
