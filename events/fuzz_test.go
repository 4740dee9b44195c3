package events

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// addFixtures seeds a fuzz target with every fixture whose name starts with one of prefixes,
// plus truncated and wrong-typed variants of the first one.
func addFixtures(f *testing.F, prefixes ...string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		base := filepath.Base(name)
		for _, p := range prefixes {
			if !strings.HasPrefix(base, p) {
				continue
			}
			raw, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
			f.Add(raw[:len(raw)/2])
		}
	}
	for _, s := range []string{"", "null", "[]", "{}", `{"detail":1}`, `{"Records":{}}`, `{"Message":7}`, `"x"`} {
		f.Add([]byte(s))
	}
}

// Every parser: never panics; on success the result is usable (validated), on failure the
// error says something.
func FuzzParseObjectChanges(f *testing.F) {
	addFixtures(f, "s3-", "sqs-", "sns-")
	f.Fuzz(func(t *testing.T, raw []byte) {
		changes, err := ParseObjectChanges(raw)
		if err != nil {
			if changes != nil {
				t.Fatalf("error %v with a partial result %v", err, changes)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if len(changes) == 0 {
			t.Fatal("no error and no change")
		}
		for _, c := range changes {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("accepted an invalid change: %v", verr)
			}
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	for _, s := range []string{"a+b%2Bc", "%", "%zz", "caf%C3%A9", strings.Repeat("%41", 1024), "a%3Ab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		key, err := DecodeKey(raw)
		if err != nil {
			if key != "" {
				t.Fatalf("error %v with key %q", err, key)
			}
			return
		}
		if len(key) > len(raw) {
			t.Fatalf("decoded key %q longer than %q", key, raw)
		}
		if utf8.ValidString(raw) && !strings.Contains(raw, "%") && key != strings.ReplaceAll(raw, "+", " ") {
			t.Fatalf("DecodeKey(%q) = %q, want only '+' replaced", raw, key)
		}
	})
}

func FuzzParseAlarmStateChange(f *testing.F) {
	addFixtures(f, "alarm-")
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := ParseAlarmStateChange(raw)
		if err != nil {
			return
		}
		if ev.Detail.AlarmName == "" || !ValidAlarmState(ev.Detail.State.Value) {
			t.Fatalf("accepted %+v", ev.Detail)
		}
	})
}

func FuzzParseHealthEvent(f *testing.F) {
	addFixtures(f, "health-")
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := ParseHealthEvent(raw)
		if err != nil {
			return
		}
		if ev.AffectedRegion() == "" || ev.Detail.EventARN == "" {
			t.Fatalf("accepted %+v", ev)
		}
	})
}

func FuzzParseRoutingCommand(f *testing.F) {
	addFixtures(f, "command-")
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := ParseRoutingCommand(raw)
		if err != nil {
			return
		}
		if verr := ev.Detail.Validate(); verr != nil {
			t.Fatalf("accepted an invalid command: %v", verr)
		}
	})
}
