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
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       string            `yaml:"build"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Ports       []string          `yaml:"ports"`
			Restart     string            `yaml:"restart"`
			Healthcheck *struct {
				Test     []string `yaml:"test"`
				Interval string   `yaml:"interval"`
				Timeout  string   `yaml:"timeout"`
				Retries  int      `yaml:"retries"`
			} `yaml:"healthcheck"`
			DependsOn map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
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
	if mig.Build != "." || gh.Build != "." {
		t.Errorf("migrate and gatehouse must build from the repo's Dockerfile: %q, %q", mig.Build, gh.Build)
	}
	if gh.DependsOn["postgres"].Condition != "service_healthy" || gh.DependsOn["migrate"].Condition != "service_completed_successfully" {
		t.Errorf("gatehouse must wait for a healthy postgres and finished migrations: %+v", gh.DependsOn)
	}
	if gh.Environment["GATEHOUSE_DATABASE_URL"] == "" || gh.Environment["GATEHOUSE_SECRETS"] == "" {
		t.Errorf("gatehouse needs GATEHOUSE_DATABASE_URL and GATEHOUSE_SECRETS: %v", gh.Environment)
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

	if docker, err := exec.LookPath("docker"); err == nil {
		if exec.Command(docker, "compose", "version").Run() == nil {
			cmd := exec.Command(docker, "compose", "-f", "../../compose.yaml", "config", "--quiet")
			cmd.Env = append(os.Environ(), "GATEHOUSE_SECRETS=test-secret-test-secret-test-secret")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("docker compose config: %v\n%s", err, out)
			}
		}
	}
}
