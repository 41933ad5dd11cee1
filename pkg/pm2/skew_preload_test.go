package pm2_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/next-deploy/pkg/pm2"
	"github.com/org/next-deploy/pkg/pm2/pm2test"
)

// keptApp starts the tiny app with the preload as a kept app: its
// settings only in pm2_env, as a pm2 cluster worker gets them (pm2 fills
// process.env after the preload ran: the regression this guards against
// left the kept app on the current release's port).
func keptApp(t *testing.T, sock string, until time.Time) (*exec.Cmd, chan struct{}, string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not installed")
		}
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	for name, content := range (pm2test.Release{ID: "k1"}).Files() {
		f := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "drain.cjs"), pm2.Preload, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	env, _ := json.Marshal(map[string]string{
		"NEXT_DEPLOY_LISTEN_PATH": sock,
		"NEXT_DEPLOY_SKEW_UNTIL":  strconv.FormatInt(until.UnixMilli(), 10),
	})
	cmd := exec.Command(node, "--require", filepath.Join(dir, "drain.cjs"), filepath.Join(dir, "server.js"))
	cmd.Env = append(os.Environ(), "HOSTNAME=127.0.0.1", "PORT="+port, "NEXT_DEPLOY_DRAIN_MS=200", "pm2_env="+string(env))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}) // closed when it exited
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	return cmd, done, "127.0.0.1:" + port
}

// A kept app listens on its unix socket (a stale one removed first), open
// to nginx's user, never on the app's port; when its window is over it
// removes the socket and its directory (nginx routes to current) and
// exits with a code pm2 leaves stopped.
func TestPreloadKeptAppServesOnItsSocketUntilItsWindow(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "k1.d", "http.sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	// A socket left by a crash: a file nobody answers on.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	cmd, done, port := keptApp(t, sock, time.Now().Add(3*time.Second))
	var conn net.Conn
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the kept app never listened on %s: %v", sock, err)
		}
	}
	status, _, err := get(conn, bufio.NewReader(conn), "/")
	conn.Close()
	if err != nil || status != 200 {
		t.Errorf("GET / on the socket: %d, %v", status, err)
	}
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o666 {
		t.Errorf("socket %s: %v, mode %v, want 0666 (nginx's user connects)", sock, err, st.Mode().Perm())
	}
	if c, err := net.Dial("tcp", port); err == nil {
		c.Close()
		t.Errorf("the kept app also listens on the app's port %s", port)
	}
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); !stopCode(code) {
			t.Errorf("the kept app exited with %d at the end of its window, want a stop code", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the kept app still runs 12s after its window")
	}
	if _, err := os.Stat(filepath.Dir(sock)); !os.IsNotExist(err) {
		t.Errorf("%s stays after the window (%v): nginx would still route to it", filepath.Dir(sock), err)
	}
}

// A kept app started after its window (pm2 resurrect after a reboot)
// exits at once, with the stop code, and takes its directory out.
func TestPreloadKeptAppPastItsWindowDoesNotStart(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "k1.d", "http.sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, done, _ := keptApp(t, sock, time.Now().Add(-time.Second))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a kept app past its window still runs")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if _, err := os.Stat(filepath.Dir(sock)); !os.IsNotExist(err) {
		t.Errorf("%s stays: %v", filepath.Dir(sock), err)
	}
}

func stopCode(code int) bool {
	for _, c := range []int{0, 130, 143} {
		if code == c {
			return true
		}
	}
	return false
}

// The helper ecosystem copies the app, env blocks and all, into the
// release, under its own name, with the kept app's settings winning over
// the env blocks, the preload forced in, and no restart delay (pm2 would
// show a stopped kept app as "waiting restart").
func TestSkewConfigCopiesTheApp(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	cfg := pm2.Defaults
	cfg.Root = dir
	eco, err := pm2.Ecosystem(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// An ecosystem without the preload: the helper adds it.
	eco = []byte(strings.Replace(string(eco), "'--require', root + '/.next-deploy/drain.cjs',", "", 1))
	ecoFile := filepath.Join(dir, "ecosystem.config.js")
	helper := filepath.Join(dir, "skew.config.js")
	for f, b := range map[string][]byte{ecoFile: eco, helper: []byte(pm2.SkewConfigJS)} {
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(node, "-e", `process.stdout.write(JSON.stringify(require(process.argv[1])))`, "--", helper)
	cmd.Env = append(os.Environ(), "NEXT_DEPLOY_ECOSYSTEM="+ecoFile, "NEXT_DEPLOY_APP=web", "NEXT_DEPLOY_AS=web-skew-r1",
		"NEXT_DEPLOY_CWD="+dir+"/releases/r1", "NEXT_DEPLOY_SCRIPT="+dir+"/releases/r1/server.js",
		"NEXT_DEPLOY_SKEW_INSTANCES=2", "NEXT_DEPLOY_SKEW_UNTIL=123", "NEXT_DEPLOY_SKEW_SOCKET=/s/r1.d/http.sock",
		"NEXT_DEPLOY_PRELOAD="+dir+"/.next-deploy/drain.cjs")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var got struct {
		Apps []map[string]any `json:"apps"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got.Apps) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	a := got.Apps[0]
	envProd, _ := a["env_production"].(map[string]any)
	env, _ := a["env"].(map[string]any)
	for _, c := range []struct {
		what string
		got  any
		want any
	}{
		{"name", a["name"], "web-skew-r1"},
		{"cwd", a["cwd"], dir + "/releases/r1"},
		{"script", a["script"], dir + "/releases/r1/server.js"},
		{"exec_mode", a["exec_mode"], "cluster"},
		{"instances", a["instances"], 2.0},
		{"stop_exit_codes", fmt.Sprint(a["stop_exit_codes"]), "[0 130 143]"},
		{"exp_backoff_restart_delay", a["exp_backoff_restart_delay"], nil},
		{"node_args[1]", fmt.Sprint(a["node_args"].([]any)[1]), dir + "/.next-deploy/drain.cjs"},
		{"env.NEXT_DEPLOY_LISTEN_PATH", env["NEXT_DEPLOY_LISTEN_PATH"], "/s/r1.d/http.sock"},
		{"env.PORT (the app's, kept)", env["PORT"], "3000"},
		{"env_production.NEXT_DEPLOY_SKEW_UNTIL", envProd["NEXT_DEPLOY_SKEW_UNTIL"], "123"},
		{"env_production.NEXT_DEPLOY_ENV (the app's, kept)", envProd["NEXT_DEPLOY_ENV"], "production"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}
