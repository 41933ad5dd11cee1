package initapp

import (
	"embed"
	"fmt"
	"strings"
	"text/template"
)

// The templates use [[ ]]: the workflows are full of GitHub's ${{ }}.
//
//go:embed templates/*.yml
var templateFS embed.FS

var templates = template.Must(template.New("").Delims("[[", "]]").Option("missingkey=error").ParseFS(templateFS, "templates/*.yml"))

// Workflow is one caller workflow init writes to .github/workflows.
type Workflow struct {
	// Name is the file's name; Template the template it comes from; Env
	// the environment it deploys on push ("" for the others).
	Name, Template, Env string
}

// Workflows are the callers: develop and staging deploy on push,
// production and rollback by a manual dispatch. examples/workflows holds
// them as init writes them by default (a test keeps them equal).
var Workflows = []Workflow{
	{Name: "deploy-develop.yml", Template: "deploy-push.yml", Env: "develop"},
	{Name: "deploy-staging.yml", Template: "deploy-push.yml", Env: "staging"},
	{Name: "deploy-production.yml", Template: "deploy-production.yml"},
	{Name: "rollback.yml", Template: "rollback.yml"},
}

// tmplData is what the templates are filled with.
type tmplData struct {
	Env          string
	RunnerLabel  string
	AppDirectory string // "" for the repository's root
	Path, Name   string
	Port         int
}

func (d tmplData) forEnv(env string) tmplData {
	d.Env = env
	return d
}

func render(name string, d tmplData) (string, error) {
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, name, d); err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	return b.String(), nil
}

// RenderWorkflow is workflow w as init writes it with the runner label and
// the app's directory in the repository ("" or "." for its root).
func RenderWorkflow(w Workflow, runnerLabel, appDirectory string) (string, error) {
	if appDirectory == "." {
		appDirectory = ""
	}
	return render(w.Template, tmplData{Env: w.Env, RunnerLabel: runnerLabel, AppDirectory: appDirectory})
}
