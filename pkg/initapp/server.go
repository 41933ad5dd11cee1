package initapp

import (
	"cmp"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/org/next-deploy/pkg/config"
	"github.com/org/next-deploy/pkg/inventory"
	"github.com/org/next-deploy/pkg/pm2"
)

// ServerSetup is what every server of some environments needs once: the
// same commands serve every environment whose settings they read.
type ServerSetup struct {
	Environments []string `json:"environments"`
	// Root are the commands to run as root (nginx), Login as the deploy
	// login (its pm2 and its files).
	Root  []string `json:"root"`
	Login []string `json:"login"`
}

// The settings of next-deploy.yml each config command takes, in the order
// printed; path and port are always given, the others when the file sets
// them.
var (
	nginxFlags = []string{"path", "app-dir", "hostname", "port", "listen", "server-name", "upstream", "keepalive"}
	pm2Flags   = []string{"path", "app-dir", "name", "hostname", "port", "instances", "listen-timeout", "kill-timeout", "drain", "max-memory"}
	always     = map[string]string{"path": DefaultPath, "port": "3000", "name": pm2.Defaults.Name}
)

// server works out the server commands from the settings file (the one
// init wrote, or the app's own): one setup per set of environments that
// read the same settings, its ecosystem holding each one's pm2 env.
func (r *Result) server(file string) error {
	f, err := config.Load(file)
	if err != nil {
		return err
	}
	r.Environments = f.Names()
	type group struct {
		setup    ServerSetup
		pm2, eco string
		pm2Envs  []string
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, env := range f.Names() {
		res, err := f.Resolve(env)
		if err != nil {
			return err
		}
		nginx, pm2Line := configLine("nginx", res, nginxFlags), configLine("pm2", res, pm2Flags)
		g := byKey[nginx+"\n"+pm2Line]
		if g == nil {
			g = &group{setup: setupOf(res, nginx), pm2: pm2Line, eco: ecosystemFile(res)}
			groups = append(groups, g)
			byKey[nginx+"\n"+pm2Line] = g
		}
		g.setup.Environments = append(g.setup.Environments, env)
		if slices.ContainsFunc(res.Hosts, func(t inventory.Target) bool { return strings.HasSuffix(t.Host, ".example.com") }) {
			r.Placeholders = append(r.Placeholders, env)
		}
		if e := cmp.Or(value(res, "pm2-env"), "production"); !slices.Contains(g.pm2Envs, e) {
			g.pm2Envs = append(g.pm2Envs, e)
		}
	}
	for _, g := range groups {
		g.setup.Login = append(g.setup.Login, g.pm2+" --envs "+strings.Join(g.pm2Envs, ",")+" > "+g.eco)
		r.Server = append(r.Server, g.setup)
	}
	return nil
}

// setupOf is the setup of an environment: nginx as root, the shared
// files as the login; the pm2 line is added by the caller.
func setupOf(res *config.Resolved, nginx string) ServerSetup {
	root := cmp.Or(value(res, "path"), DefaultPath)
	name := cmp.Or(value(res, "name"), pm2.Defaults.Name)
	s := ServerSetup{Root: []string{nginx + " > /etc/nginx/conf.d/" + name + ".conf && nginx -t && nginx -s reload"}}
	for _, p := range res.Shared {
		at := shellWord(path.Join(root, "shared", p))
		if strings.HasSuffix(p, "/") {
			s.Login = append(s.Login, "mkdir -p "+at)
		} else {
			s.Login = append(s.Login, "mkdir -p "+shellWord(path.Dir(path.Join(root, "shared", p)))+" && touch "+at)
		}
	}
	return s
}

// configLine is `next-deploy config <what>` with the flags of the
// settings res gives.
func configLine(what string, res *config.Resolved, flags []string) string {
	args := []string{"next-deploy", "config", what}
	for _, fl := range flags {
		v := value(res, fl)
		if v == "" {
			v = always[fl]
		}
		if v == "" || fl == "name" && what == "nginx" {
			continue
		}
		if fl == "path" && what == "nginx" {
			v = absolute(v, res)
		}
		args = append(args, "--"+fl, shellWord(v))
	}
	return strings.Join(args, " ")
}

func value(res *config.Resolved, flag string) string {
	if v, ok := res.Values[flag]; ok {
		return v.Value
	}
	return ""
}

// absolute is a deploy path nginx can take: ~/ is the login's home, which
// nginx does not expand; /home/<login> is a guess the admin checks.
func absolute(p string, res *config.Resolved) string {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p
	}
	login := cmp.Or(value(res, "user"), "deploy")
	if len(res.Hosts) > 0 && res.Hosts[0].User != "" {
		login = res.Hosts[0].User
	}
	return path.Join("/home", login, rest)
}

func ecosystemFile(res *config.Resolved) string {
	eco := cmp.Or(value(res, "ecosystem"), pm2.DefaultEcosystem)
	return shellWord(path.Join(cmp.Or(value(res, "path"), DefaultPath), eco))
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_~{}-]+$`)

// shellWord quotes s for sh unless it needs none (a leading ~/ stays
// unquoted: the shell expands it).
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	if rest, ok := strings.CutPrefix(s, "~/"); ok {
		return "~/" + shellWord(rest)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
