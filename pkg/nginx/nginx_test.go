package nginx

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/next-deploy/internal/golden"
)

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

func cases() map[string]Config {
	mono := Defaults
	mono.Root, mono.AppDir, mono.Listen, mono.ServerName, mono.Upstream = "/srv/shop", "apps/web", "127.0.0.11:8080", "shop.example.com www.shop.example.com", "127.0.0.11:3000"
	def := Defaults
	def.Root = "/app"
	// next.config's basePath /docs: the app and its assets under /docs.
	docs := def
	docs.BasePath = "/docs"
	return map[string]Config{"default.conf": def, "monorepo.conf": mono, "basepath.conf": docs}
}

func TestRenderGolden(t *testing.T) {
	for name, c := range cases() {
		t.Run(name, func(t *testing.T) {
			got, err := Render(c)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, got)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{Root: "~/app", AppDir: "../x", Listen: "eighty", ServerName: "a;b", Upstream: "app", Keepalive: 0, BasePath: "/docs/"}
	err := c.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"does not expand ~", "app dir", "listen", "server name", "upstream", "keepalive", "base path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

// The rendered pieces are valid nginx, checked by nginx itself.
func TestNginxAcceptsIt(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx not installed (apt-get install nginx)")
		}
		t.Skip("nginx not installed")
	}
	for name, c := range cases() {
		dir := t.TempDir()
		conf, _ := Render(c)
		main := "daemon off;\npid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\nevents {}\nhttp {\n" +
			"access_log off;\nclient_body_temp_path " + dir + ";\nproxy_temp_path " + dir + ";\n" +
			"fastcgi_temp_path " + dir + ";\nuwsgi_temp_path " + dir + ";\nscgi_temp_path " + dir + ";\n" + string(conf) + "}\n"
		file := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(file, []byte(main), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-t", "-p", dir, "-c", file).CombinedOutput()
		if err != nil {
			t.Errorf("%s: nginx -t: %v\n%s", name, err, out)
		}
	}
}
