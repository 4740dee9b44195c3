package failover

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// badInputs are events the failover function must reject as a whole: malformed, truncated,
// oversized and wrong-typed versions of the events it accepts.
func badInputs(t *testing.T) []struct{ name, raw, wantErr string } {
	alarm := string(fixture(t, "alarm-state-alarm.json"))
	command := string(fixture(t, "command-failover.json"))
	return []struct{ name, raw, wantErr string }{
		{"empty", "", "not an EventBridge envelope"},
		{"null", "null", "unknown event"},
		{"array", `[{"source":"aws.cloudwatch"}]`, "not an EventBridge envelope"},
		{"string", `"aws.cloudwatch"`, "not an EventBridge envelope"},
		{"truncated alarm", alarm[:len(alarm)/2], "not an EventBridge envelope"},
		{"truncated command", command[:len(command)-3], "not an EventBridge envelope"},
		{"source of the wrong type", `{"source":7,"detail-type":"CloudWatch Alarm State Change"}`, "not an EventBridge envelope"},
		{"alarm detail of the wrong type", `{"source":"aws.cloudwatch","detail-type":"CloudWatch Alarm State Change","detail":"ALARM"}`, "decode alarm state change"},
		{"alarm state of the wrong type", strings.Replace(alarm, `"value": "ALARM"`, `"value": 1`, 1), "decode alarm state change"},
		{"command region of the wrong type", `{"source":"mrap.engine","detail-type":"MRAP Routing Command","time":"2026-01-01T00:00:00Z","detail":{"action":"failover","region":["eu-west-1"]}}`, "decode routing command"},
		{"oversized unknown event", `{"source":"aws.s3","detail-type":"Object Created","detail":{"pad":"` + strings.Repeat("x", 10<<20) + `"}}`, "unknown event"},
		{"oversized alarm reason", strings.Replace(alarm, `"reason": "`, `"reason": "`+strings.Repeat("r", 10<<20), 1), ""},
	}
}

// TestBadInputIsRejectedAndChangesNothing: every bad event is an error that says what was
// wrong, and the engine neither reads nor submits routes nor saves its state.
func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	for _, tt := range badInputs(t) {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, aaPolicy(), false, euAlarm())
			out, err := r.engine.HandleEvent(context.Background(), []byte(tt.raw))
			if tt.wantErr == "" {
				// Well-formed, only large: size alone is no reason to reject an event.
				if err != nil {
					t.Fatalf("a well-formed event was rejected: %.200v", err)
				}
				return
			}
			t.Logf("error: %.300v", err)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if len(err.Error()) > 4096 {
				t.Errorf("error of %d bytes: it must not echo the input", len(err.Error()))
			}
			if out.Changed || out.Submitted || !strings.HasPrefix(out.Reason, "event rejected") {
				t.Errorf("outcome = %+v, want a rejection", out)
			}
			if r.routes.gets != 0 || len(r.routes.submits) != 0 || r.puts != 0 {
				t.Errorf("a rejected event touched routes (%d gets, %d submits) or state (%d saves)", r.routes.gets, len(r.routes.submits), r.puts)
			}
		})
	}
}

// FuzzHandleEvent: any payload is parsed without panicking; a rejected one is an error with
// a message and touches neither the routes nor the state; an accepted one is a known kind.
func FuzzHandleEvent(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("..", "..", "events", "testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		b, err := readFixtureFile(filepath.Base(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	for _, s := range []string{"", "null", "{}", "[]", `{"source":"aws.events","detail-type":"Scheduled Event","id":"x"}`,
		`{"source":"aws.health","detail-type":"AWS Health Event","detail":7}`, `{"source":"mrap.engine","detail-type":"MRAP Routing Command"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		tr, perr := ParseEvent(raw)
		if perr != nil {
			if perr.Error() == "" {
				t.Fatal("empty error message")
			}
			if tr.Kind != "" {
				t.Fatalf("error %v with trigger %+v", perr, tr)
			}
		} else {
			switch tr.Kind {
			case "alarm", "health", "command", "schedule":
			default:
				t.Fatalf("accepted trigger of kind %q", tr.Kind)
			}
			if tr.Kind == "command" && tr.Command == nil {
				t.Fatal("command trigger without a command")
			}
		}
		r := newRig(t, aaPolicy(), false, euAlarm())
		_, err := r.engine.HandleEvent(context.Background(), raw)
		if perr != nil && err == nil {
			t.Fatalf("HandleEvent accepted what ParseEvent rejected: %v", perr)
		}
		if perr != nil && (r.routes.gets != 0 || len(r.routes.submits) != 0 || r.puts != 0) {
			t.Fatalf("a rejected event touched routes (%d gets, %d submits) or state (%d saves)", r.routes.gets, len(r.routes.submits), r.puts)
		}
		if perr != nil && !bytes.Contains(r.logs.Bytes(), []byte("failover event rejected")) {
			t.Fatal("a rejected event was not logged")
		}
	})
}
