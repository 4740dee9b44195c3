package events

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

// TestEnvelopeIsTheSameForEverySource decodes each source's fixture twice, as a raw Event
// and as its typed event, and checks both read the same envelope, that the typed event
// marshals the envelope at the top level (no nested "Envelope"), and that Is tells the
// sources apart.
func TestEnvelopeIsTheSameForEverySource(t *testing.T) {
	tests := []struct {
		fixture            string
		source, detailType string
		typed              func([]byte) (Envelope, any, error)
	}{
		{"s3-object-created.json", S3EventSource, DetailTypeObjectCreated, func(b []byte) (Envelope, any, error) {
			var ev S3ObjectEvent
			err := json.Unmarshal(b, &ev)
			return ev.Envelope, ev, err
		}},
		{"alarm-state-alarm.json", CloudWatchSource, DetailTypeAlarmStateChange, func(b []byte) (Envelope, any, error) {
			ev, err := ParseAlarmStateChange(b)
			return ev.Envelope, ev, err
		}},
		{"health-s3-issue-open.json", HealthSource, DetailTypeHealthEvent, func(b []byte) (Envelope, any, error) {
			ev, err := ParseHealthEvent(b)
			return ev.Envelope, ev, err
		}},
		{"command-failover.json", CommandSource, DetailTypeRoutingCommand, func(b []byte) (Envelope, any, error) {
			ev, err := ParseRoutingCommand(b)
			return ev.Envelope, ev, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			raw := readFixture(t, tt.fixture)
			ev, err := ParseEvent(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !ev.Is(tt.source, tt.detailType) || ev.ID == "" || ev.Time.IsZero() || len(ev.Detail) == 0 {
				t.Fatalf("envelope %+v (detail %d bytes), want %s / %s with id, time and detail", ev.Envelope, len(ev.Detail), tt.source, tt.detailType)
			}
			if ev.Is(tt.source, "Something Else") || ev.Is("aws.other", tt.detailType) {
				t.Error("Is matched another source or detail-type")
			}
			env, typed, err := tt.typed(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !envelopesEqual(env, ev.Envelope) {
				t.Errorf("typed envelope %+v, raw envelope %+v", env, ev.Envelope)
			}
			out, err := json.Marshal(typed)
			if err != nil {
				t.Fatal(err)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(out, &top); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"} {
				if _, ok := top[k]; !ok {
					t.Errorf("marshalled event lacks top-level %q: keys %v", k, slices.Sorted(maps.Keys(top)))
				}
			}
			if _, nested := top["Envelope"]; nested {
				t.Error("marshalled event nests the envelope")
			}
		})
	}
}

func envelopesEqual(a, b Envelope) bool {
	return a.Version == b.Version && a.ID == b.ID && a.DetailType == b.DetailType && a.Source == b.Source &&
		a.AccountID == b.AccountID && a.Time.Equal(b.Time) && a.Region == b.Region &&
		slices.Equal(a.Resources, b.Resources) && a.ReplayName == b.ReplayName
}

func TestParseEventRejectsWhatIsNotAnEnvelope(t *testing.T) {
	for _, raw := range []string{``, `[]`, `"x"`, `{"detail-type": 3}`} {
		if _, err := ParseEvent([]byte(raw)); err == nil {
			t.Errorf("ParseEvent(%q) accepted", raw)
		}
	}
}
