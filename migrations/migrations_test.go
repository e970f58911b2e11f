package migrations_test

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/migrations"
)

var (
	name = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)
	// banned finds what design D10 rules out: sequences and triggers.
	banned  = regexp.MustCompile(`\b(small|big)?serial\b|\bas\s+identity\b|\bcreate\s+sequence\b|\bnextval\b|\bcreate\s+(constraint\s+)?trigger\b`)
	comment = regexp.MustCompile(`--[^\n]*`)
)

func TestFilesAreNumberedWithoutGaps(t *testing.T) {
	files, err := fs.Glob(migrations.FS, "*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no migration files embedded")
	}
	for i, f := range files {
		m := name.FindStringSubmatch(f)
		if m == nil {
			t.Errorf("file %q: name is not NNNN_name.sql", f)
			continue
		}
		if want := fmt.Sprintf("%04d", i+1); m[1] != want {
			t.Errorf("file %q has version %s; want %s (versions start at 1 with no gaps)", f, m[1], want)
		}
		b, err := fs.ReadFile(migrations.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		sql := comment.ReplaceAllString(strings.ToLower(string(b)), "")
		if strings.TrimSpace(sql) == "" {
			t.Errorf("file %q has no statements", f)
		}
		if m := banned.FindString(sql); m != "" {
			t.Errorf("file %q uses %q; ids come from the application, no triggers (design D10)", f, m)
		}
	}
}
