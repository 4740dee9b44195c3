// Package config is the engine's one loader of configuration from the environment: typed
// values, member lists and key=value maps, with every problem collected into one error.
package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Member is one regional bucket behind the Multi-Region Access Point.
type Member struct {
	Region string
	Bucket string
}

// Env reads typed settings through a lookup function (os.LookupEnv in functions, a map in
// tests). Each accessor records a problem instead of failing; Err reports them all at once.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// New returns an Env that reads through lookup.
func New(lookup func(string) (string, bool)) *Env {
	return &Env{lookup: lookup}
}

// FromMap returns an Env over a fixed map, for tests and the local runtime.
func FromMap(m map[string]string) *Env {
	return New(func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	})
}

// Err returns every problem recorded so far, joined, or nil.
func (e *Env) Err() error {
	return errors.Join(e.errs...)
}

// Fail records a problem found by the caller's own validation, so it is reported with the rest.
func (e *Env) Fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

func (e *Env) raw(name string) (string, bool) {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// String returns the value of name, or def when unset or empty.
func (e *Env) String(name, def string) string {
	if v, ok := e.raw(name); ok {
		return v
	}
	return def
}

// Required returns the value of name and records a problem when it is unset or empty.
func (e *Env) Required(name string) string {
	v, ok := e.raw(name)
	if !ok {
		e.Fail(name, "is required")
	}
	return v
}

// Bool parses true/false (and 1/0), or returns def when unset.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.Fail(name, "want true or false, got %q", v)
		return def
	}
	return b
}

// Int64 parses a non-negative integer, or returns def when unset.
func (e *Env) Int64(name string, def int64) int64 {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		e.Fail(name, "want a non-negative integer, got %q", v)
		return def
	}
	return n
}

// Duration parses a Go duration such as 90s or 5m, or returns def when unset.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.Fail(name, "want a duration such as 90s or 5m, got %q", v)
		return def
	}
	return d
}

// List parses a comma-separated list, dropping empty items, or returns def when unset.
func (e *Env) List(name string, def []string) []string {
	v, ok := e.raw(name)
	if !ok {
		return def
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Map parses key=value pairs separated by commas. Keys must be unique.
func (e *Env) Map(name string) map[string]string {
	out := map[string]string{}
	for _, p := range e.pairs(name) {
		out[p[0]] = p[1]
	}
	return out
}

func (e *Env) pairs(name string) [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	for _, item := range e.List(name, nil) {
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			e.Fail(name, "want key=value pairs separated by commas, got %q", item)
			continue
		}
		if seen[k] {
			e.Fail(name, "%q appears twice", k)
			continue
		}
		seen[k] = true
		out = append(out, [2]string{k, v})
	}
	return out
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

// ValidRegion reports whether s looks like an AWS Region name (us-east-1, ap-southeast-2).
func ValidRegion(s string) bool {
	return regionPattern.MatchString(s)
}

// Members parses region=bucket pairs in the order given; it requires at least two members,
// valid Region names and no Region twice.
func (e *Env) Members(name string) []Member {
	var out []Member
	for _, p := range e.pairs(name) {
		if !ValidRegion(p[0]) {
			e.Fail(name, "%q is not a Region name", p[0])
			continue
		}
		out = append(out, Member{Region: p[0], Bucket: p[1]})
	}
	if len(out) < 2 {
		e.Fail(name, "want at least two region=bucket members, got %d", len(out))
	}
	return out
}
