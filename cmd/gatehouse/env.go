package main

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/gatehouse/gatehouse/keys"
)

// envResolver gives a flag the value of its envvar from the environment
// run was given (never os.Getenv). A value that does not parse is
// recorded in errs rather than returned, so that a bad variable is
// reported with every other problem at once (design D11).
type envResolver struct {
	getenv func(string) string
	errs   *[]error
}

func (envResolver) Validate(*kong.Application) error { return nil }

func (r envResolver) Resolve(_ *kong.Context, _ *kong.Path, f *kong.Flag) (any, error) {
	name := f.Tag.Get("envvar")
	v := ""
	if name != "" {
		v = r.getenv(name)
	}
	if v == "" {
		return nil, nil
	}
	if f.IsBool() {
		b, err := strconv.ParseBool(v)
		if err != nil {
			*r.errs = append(*r.errs, fmt.Errorf("%s=%q: want true or false", name, v))
			return nil, nil
		}
		return b, nil
	}
	// Parse into a scratch value to learn whether it parses; kong parses
	// it again into the field.
	scratch := reflect.New(f.Target.Type()).Elem()
	if err := f.Parse(kong.ScanFromTokens(kong.Token{Type: kong.FlagValueToken, Value: v}), scratch); err != nil {
		*r.errs = append(*r.errs, fmt.Errorf("%s: %v", name, err))
		return nil, nil
	}
	return v, nil
}

// helpValue is a flag's help with its variable, as kong's own formatter
// shows an env tag (kong shows the default as the flag's placeholder).
func helpValue(v *kong.Value) string {
	name := v.Tag.Get("envvar")
	if name == "" {
		return v.Help
	}
	return strings.TrimSuffix(v.Help, ".") + " ($" + name + ")."
}

// knownEnv lists the GATEHOUSE_* variables of every flag of the model,
// and the master secrets, which have no flag so that they stay out of
// shell history.
func knownEnv(app *kong.Application) []string {
	names := []string{keys.EnvSecrets}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			if name := f.Tag.Get("envvar"); name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(app.Node)
	return names
}

// retiredEnv says what replaced a variable earlier versions read, or "".
func retiredEnv(name string) string {
	switch name {
	case "GATEHOUSE_BOOTSTRAP_ADMIN":
		return "serve no longer creates or prints an admin client; create one with `gatehouse bootstrap`"
	}
	return ""
}

// checkEnviron refuses GATEHOUSE_* variables that nothing reads (design
// D11): a misspelt GATEHOUSE_DATABASE_URL must not start a server in dev
// mode. The names are compared case-insensitively so that a lower-case
// spelling is caught too. Variables of this repository's other programs
// (GATEHOUSE_BENCH_*, GATEHOUSE_TEST_*) are theirs.
func checkEnviron(environ, known []string) error {
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		if !strings.HasPrefix(upper, "GATEHOUSE_") || slices.Contains(known, name) ||
			strings.HasPrefix(upper, "GATEHOUSE_BENCH_") || strings.HasPrefix(upper, "GATEHOUSE_TEST_") {
			continue
		}
		if why := retiredEnv(name); why != "" {
			errs = append(errs, fmt.Errorf("environment variable %s is no longer read: %s", name, why))
			continue
		}
		errs = append(errs, fmt.Errorf("unknown environment variable %s: did you mean %s?", name, closest(upper, known)))
	}
	return errors.Join(errs...)
}

// closest returns the candidate with the smallest edit distance to s.
func closest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if d := editDistance(s, c); bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lookupEnv returns a getenv over environ ("NAME=value" entries); the first
// entry of a name wins, as with os.Getenv.
func lookupEnv(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if _, dup := m[name]; !dup {
			m[name] = value
		}
	}
	return func(name string) string { return m[name] }
}
