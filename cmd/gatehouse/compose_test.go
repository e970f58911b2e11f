package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeFile checks compose.yaml's structure, since this machine has
// no Docker engine to run it. Where the docker compose plugin exists, it
// also asks it to parse the file.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type healthcheck struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
		Disable     bool     `yaml:"disable"`
	}
	type service struct {
		Image       string            `yaml:"image"`
		Build       string            `yaml:"build"`
		PullPolicy  string            `yaml:"pull_policy"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Secrets     []string          `yaml:"secrets"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Restart     string            `yaml:"restart"`
		Healthcheck *healthcheck      `yaml:"healthcheck"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	}
	var doc struct {
		Services map[string]service `yaml:"services"`
		Secrets  map[string]struct {
			File        string `yaml:"file"`
			Environment string `yaml:"environment"`
		} `yaml:"secrets"`
		Volumes map[string]any `yaml:"volumes"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	pg, ok := doc.Services["postgres"]
	if !ok || pg.Image == "" || pg.Healthcheck == nil || len(pg.Healthcheck.Test) == 0 {
		t.Fatalf("postgres service needs an image and a health check: %+v", pg)
	}
	for _, v := range pg.Volumes {
		name, _, _ := strings.Cut(v, ":")
		if _, declared := doc.Volumes[name]; !declared {
			t.Errorf("postgres volume %q is not a declared named volume", name)
		}
	}
	if len(pg.Volumes) == 0 {
		t.Error("postgres has no named volume")
	}
	mig, gh := doc.Services["migrate"], doc.Services["gatehouse"]

	// One image, built once, shared by migrate and serve.
	if gh.Build != "." || gh.Image == "" {
		t.Errorf("gatehouse must build the repo's Dockerfile under an image name: build %q, image %q", gh.Build, gh.Image)
	}
	if mig.Build != "" || mig.Image != gh.Image || mig.PullPolicy != "never" {
		t.Errorf("migrate must run the image gatehouse builds (%q), never build or pull its own: build %q, image %q, pull_policy %q",
			gh.Image, mig.Build, mig.Image, mig.PullPolicy)
	}
	if gh.DependsOn["postgres"].Condition != "service_healthy" || gh.DependsOn["migrate"].Condition != "service_completed_successfully" {
		t.Errorf("gatehouse must wait for a healthy postgres and finished migrations: %+v", gh.DependsOn)
	}

	// The master secret persists across `up`: a compose secret from a
	// file, never GATEHOUSE_SECRETS interpolated from the shell.
	if _, ok := gh.Environment["GATEHOUSE_SECRETS"]; ok {
		t.Error("gatehouse takes GATEHOUSE_SECRETS from the environment of `up`; use a compose secret and GATEHOUSE_SECRETS_FILE")
	}
	secretsFile := gh.Environment["GATEHOUSE_SECRETS_FILE"]
	name, found := strings.CutPrefix(secretsFile, "/run/secrets/")
	if !found || !slices.Contains(gh.Secrets, name) || doc.Secrets[name].File == "" || doc.Secrets[name].Environment != "" {
		t.Errorf("GATEHOUSE_SECRETS_FILE %q must name a compose secret of the gatehouse service that comes from a file: secrets %v, %+v",
			secretsFile, gh.Secrets, doc.Secrets)
	}

	// The gatehouse service has a health check, and it runs a real
	// subcommand of the image (distroless: no shell, no curl).
	if gh.Healthcheck == nil || gh.Healthcheck.Disable || len(gh.Healthcheck.Test) < 2 || gh.Healthcheck.Test[0] != "CMD" ||
		!strings.HasSuffix(gh.Healthcheck.Test[1], "/gatehouse") {
		t.Fatalf("gatehouse needs a health check that runs the gatehouse binary: %+v", gh.Healthcheck)
	}
	healthArgs := append(slices.Clone(gh.Healthcheck.Test[2:]), "--help")
	if err := run(context.Background(), healthArgs, nil, nil, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) || healthArgs[0] != "healthcheck" {
		t.Errorf("the health check runs gatehouse %v: %v; want the healthcheck command", gh.Healthcheck.Test[2:], err)
	}

	// Both ports, the admin API's included, reach the host's loopback only.
	if len(gh.Ports) != 2 {
		t.Errorf("gatehouse publishes %v; want the token service and the admin API", gh.Ports)
	}
	for _, p := range gh.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("port %q is published beyond the host's loopback", p)
		}
	}

	// Every interpolated variable has a default or a required-message.
	for _, m := range regexp.MustCompile(`\$\{([^}]*)\}`).FindAllStringSubmatch(string(raw), -1) {
		if !strings.Contains(m[1], ":-") && !strings.Contains(m[1], ":?") {
			t.Errorf("${%s} has neither a default nor a required message", m[1])
		}
	}
	// The commands compose runs are real subcommands.
	for _, svc := range []string{"migrate", "gatehouse"} {
		args := append(slices.Clone(doc.Services[svc].Command), "--help")
		err := run(context.Background(), args, nil, nil, io.Discard, io.Discard)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("service %s runs %v: %v; want a known command", svc, doc.Services[svc].Command, err)
		}
	}
	// serve accepts the gatehouse service's environment as it stands
	// (every variable known, production mode), once .env has set an https
	// issuer; and refuses an http:// one unless the insecure flag is set.
	varRef := regexp.MustCompile(`\$\{([A-Z_]+)(:[-?])([^}]*)\}`)
	interpolate := func(v string, vars map[string]string) string {
		return varRef.ReplaceAllStringFunc(v, func(m string) string {
			p := varRef.FindStringSubmatch(m)
			if val, ok := vars[p[1]]; ok {
				return val
			}
			if p[2] == ":-" {
				return p[3]
			}
			t.Fatalf("compose.yaml needs %s: %s", p[1], p[3])
			return ""
		})
	}
	serveEnv := func(vars map[string]string) (map[string]string, []string) {
		env, environ := map[string]string{}, []string{}
		for k, v := range gh.Environment {
			env[k] = interpolate(v, vars)
			environ = append(environ, k+"="+env[k])
		}
		return env, environ
	}
	env, environ := serveEnv(map[string]string{"GATEHOUSE_ISSUER": "https://id.example.com", "POSTGRES_PASSWORD": "pw"})
	if err := checkEnv(environ); err != nil {
		t.Errorf("compose.yaml sets variables gatehouse does not know: %v", err)
	}
	if cfg, err := serveConfig(env); err != nil || cfg.Dev {
		t.Errorf("serve with the compose environment: %v (dev %v); want production mode", err, cfg != nil && cfg.Dev)
	}
	env, _ = serveEnv(map[string]string{"GATEHOUSE_ISSUER": "http://localhost:8080", "POSTGRES_PASSWORD": "pw"})
	if _, err := serveConfig(env); err == nil || !strings.Contains(err.Error(), "--insecure-http-issuer") {
		t.Errorf("serve with the compose environment and an http issuer: %v; want a refusal naming --insecure-http-issuer", err)
	}

	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	d := string(df)
	if strings.Count(d, "\nFROM ") < 1 || strings.Count(d, "FROM ") < 2 || !strings.Contains(d, "COPY --from=build") {
		t.Error("Dockerfile is not a multi-stage build")
	}
	if !regexp.MustCompile(`(?m)^USER\s+(nonroot|[1-9][0-9]*)`).MatchString(d) || !strings.Contains(d, "./cmd/gatehouse") {
		t.Error("Dockerfile must build ./cmd/gatehouse and run as a non-root user")
	}
	if !regexp.MustCompile(`(?m)^HEALTHCHECK .*\n?.*CMD \["/usr/local/bin/gatehouse", "healthcheck"\]`).MatchString(d) {
		t.Error("Dockerfile has no HEALTHCHECK running `gatehouse healthcheck`")
	}
	di, err := os.ReadFile("../../.dockerignore")
	if err != nil || !regexp.MustCompile(`(?m)^/?secrets/?$`).Match(di) || !regexp.MustCompile(`(?m)^/?\.env$`).Match(di) {
		t.Errorf(".dockerignore must keep secrets/ and .env out of the build context: %v\n%s", err, di)
	}

	// The README never generates a master secret on the `up` command line:
	// a new secret per `up` cannot decrypt the keys already stored.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.Contains(line, "docker compose up") && (strings.Contains(line, "rand") || strings.Contains(line, "GATEHOUSE_SECRETS")) {
			t.Errorf("README generates or passes a master secret per `up`: %s", line)
		}
	}

	if docker, err := exec.LookPath("docker"); err == nil {
		if exec.Command(docker, "compose", "version").Run() == nil {
			cmd := exec.Command(docker, "compose", "-f", "../../compose.yaml", "config", "--quiet")
			cmd.Env = append(os.Environ(), "GATEHOUSE_ISSUER=https://id.example.com", "POSTGRES_PASSWORD=test")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("docker compose config: %v\n%s", err, out)
			}
		}
	}
}
