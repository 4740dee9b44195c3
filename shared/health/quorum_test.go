package health

import (
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/routing"
)

func obs(observer, target string, s routing.State, ago time.Duration) Observation {
	return Observation{Observer: observer, Target: target, State: s, Since: t0.Add(-ago)}
}

const (
	ok  = routing.OK
	bad = routing.Alarm
	ins = routing.InsufficientData
)

func TestQuorum(t *testing.T) {
	twoPlusWitness := Topology{Members: []string{"us-east-1", "eu-west-1"}, Witnesses: []string{"us-west-2"}}
	three := Topology{Members: []string{"us-east-1", "eu-west-1", "ap-southeast-2"}}
	twoNoWitness := Topology{Members: []string{"us-east-1", "eu-west-1"}}
	cases := []struct {
		name       string
		topo       Topology
		obs        Observations
		want       map[string]routing.State
		wantSince  map[string]time.Duration
		wantQuorum bool
	}{
		{
			name: "2 members + witness: both observers of a member vote ALARM: ALARM",
			topo: twoPlusWitness,
			obs: Observations{Got: []Observation{
				obs("eu-west-1", "us-east-1", bad, 3*time.Minute), obs("us-west-2", "us-east-1", bad, time.Minute),
				obs("us-east-1", "eu-west-1", ok, time.Hour), obs("us-west-2", "eu-west-1", ok, 2*time.Hour),
			}},
			want:       map[string]routing.State{"us-east-1": bad, "eu-west-1": ok},
			wantSince:  map[string]time.Duration{"us-east-1": time.Minute, "eu-west-1": time.Hour},
			wantQuorum: true,
		},
		{
			name: "2 members + witness: the member itself is gone (unreadable), the other two vote ALARM: ALARM",
			topo: twoPlusWitness,
			obs: Observations{Got: []Observation{
				obs("eu-west-1", "us-east-1", bad, 2*time.Minute), obs("us-west-2", "us-east-1", bad, 2*time.Minute),
				obs("us-west-2", "eu-west-1", ok, time.Hour),
			}, Unreadable: map[string]string{"us-east-1": "dial tcp: i/o timeout"}},
			want:       map[string]routing.State{"us-east-1": bad, "eu-west-1": ok},
			wantQuorum: true,
		},
		{
			name: "one of two observers votes ALARM, the other OK: OK (a single observer never evacuates)",
			topo: twoPlusWitness,
			obs: Observations{Got: []Observation{
				obs("eu-west-1", "us-east-1", bad, time.Minute), obs("us-west-2", "us-east-1", ok, time.Hour),
			}},
			want:       map[string]routing.State{"us-east-1": ok, "eu-west-1": ins},
			wantQuorum: true,
		},
		{
			name: "3 members: one observer lying ALARM on everyone changes nothing",
			topo: three,
			obs: Observations{Got: []Observation{
				obs("ap-southeast-2", "us-east-1", bad, time.Minute), obs("eu-west-1", "us-east-1", ok, time.Hour),
				obs("ap-southeast-2", "eu-west-1", bad, time.Minute), obs("us-east-1", "eu-west-1", ok, time.Hour),
				obs("us-east-1", "ap-southeast-2", ok, time.Hour), obs("eu-west-1", "ap-southeast-2", ok, time.Hour),
			}},
			want:       map[string]routing.State{"us-east-1": ok, "eu-west-1": ok, "ap-southeast-2": ok},
			wantQuorum: true,
		},
		{
			name: "3 members: an ALARM vote from an unreadable observer and one readable ALARM is not a majority of all",
			topo: three,
			obs: Observations{Got: []Observation{
				obs("eu-west-1", "us-east-1", bad, time.Minute), obs("ap-southeast-2", "us-east-1", bad, time.Minute),
			}, Unreadable: map[string]string{"ap-southeast-2": "AccessDenied"}},
			want:       map[string]routing.State{"us-east-1": ins, "eu-west-1": ins, "ap-southeast-2": ins},
			wantQuorum: true,
		},
		{
			name: "3 members: ALARM needs q of all observers, not of the readable ones",
			topo: three,
			obs: Observations{Got: []Observation{
				obs("eu-west-1", "us-east-1", bad, time.Minute),
			}, Unreadable: map[string]string{"ap-southeast-2": "timeout"}},
			want:       map[string]routing.State{"us-east-1": ins, "eu-west-1": ins, "ap-southeast-2": ins},
			wantQuorum: true,
		},
		{
			name: "isolated Region votes ALARM on everyone but is a minority; the others vote ALARM on it",
			topo: three,
			obs: Observations{Got: []Observation{
				obs("us-east-1", "eu-west-1", bad, time.Minute), obs("us-east-1", "ap-southeast-2", bad, time.Minute),
				obs("eu-west-1", "us-east-1", bad, time.Minute), obs("ap-southeast-2", "us-east-1", bad, 2*time.Minute),
				obs("eu-west-1", "ap-southeast-2", ok, time.Hour), obs("ap-southeast-2", "eu-west-1", ok, time.Hour),
			}},
			want:       map[string]routing.State{"us-east-1": bad, "eu-west-1": ok, "ap-southeast-2": ok},
			wantSince:  map[string]time.Duration{"us-east-1": time.Minute},
			wantQuorum: true,
		},
		{
			name: "INSUFFICIENT_DATA alarms do not vote",
			topo: three,
			obs: Observations{Got: []Observation{
				obs("eu-west-1", "us-east-1", ins, time.Minute), obs("ap-southeast-2", "us-east-1", ins, time.Minute),
			}},
			want:       map[string]routing.State{"us-east-1": ins},
			wantQuorum: true,
		},
		{
			name: "every observer unreadable: no quorum, every member INSUFFICIENT_DATA",
			topo: three,
			obs:  Observations{Unreadable: map[string]string{"us-east-1": "x", "eu-west-1": "x", "ap-southeast-2": "x"}},
			want: map[string]routing.State{"us-east-1": ins, "eu-west-1": ins, "ap-southeast-2": ins},
		},
		{
			name: "two members without witness: partition can only be held (each side one vote against one)",
			topo: twoNoWitness,
			obs: Observations{Got: []Observation{
				obs("eu-west-1", "us-east-1", bad, time.Minute), obs("us-east-1", "eu-west-1", bad, time.Minute),
			}},
			// n = 1, q = 1: each one's only observer votes ALARM.
			want:       map[string]routing.State{"us-east-1": bad, "eu-west-1": bad},
			wantQuorum: true,
		},
		{
			name: "a self-observation and a non-member target are ignored",
			topo: twoPlusWitness,
			obs: Observations{Got: []Observation{
				obs("us-east-1", "us-east-1", bad, time.Minute), obs("eu-west-1", "us-west-2", bad, time.Minute),
				obs("eu-west-1", "us-east-1", ok, time.Hour),
			}},
			want:       map[string]routing.State{"us-east-1": ok, "eu-west-1": ins},
			wantQuorum: true,
		},
		{
			name: "an observer's worst alarm for a target is its vote",
			topo: twoPlusWitness,
			obs: Observations{Got: []Observation{
				obs("eu-west-1", "us-east-1", ok, time.Hour), obs("eu-west-1", "us-east-1", bad, time.Minute),
				obs("us-west-2", "us-east-1", bad, time.Minute),
			}},
			want:       map[string]routing.State{"us-east-1": bad},
			wantQuorum: true,
		},
		{
			name: "a minority of observers read: no quorum",
			topo: three,
			obs: Observations{Got: []Observation{obs("us-east-1", "eu-west-1", ok, time.Hour)},
				Unreadable: map[string]string{"eu-west-1": "x", "ap-southeast-2": "x"}},
			want: map[string]routing.State{"eu-west-1": ok},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Quorum(tc.topo, tc.obs)
			for r, want := range tc.want {
				if got := v.Health[r].State; got != want {
					t.Errorf("%s: got %s, want %s (%s)", r, got, want, v.Health[r].Detail)
				}
			}
			for r, ago := range tc.wantSince {
				if got, want := v.Health[r].Since, t0.Add(-ago); !got.Equal(want) {
					t.Errorf("%s since: got %s, want %s", r, got, want)
				}
			}
			if got := v.HasQuorum(); got != tc.wantQuorum {
				t.Errorf("quorum: got %v, want %v (%s)", got, tc.wantQuorum, v.Counted())
			}
			if len(v.Health) != len(tc.topo.Members) {
				t.Errorf("health of %d members, want %d", len(v.Health), len(tc.topo.Members))
			}
		})
	}
}

func TestQuorumDetailNamesEveryObserverAndCause(t *testing.T) {
	topo := Topology{Members: []string{"us-east-1", "eu-west-1"}, Witnesses: []string{"us-west-2"}}
	v := Quorum(topo, Observations{Got: []Observation{obs("eu-west-1", "us-east-1", bad, time.Minute)},
		Unreadable: map[string]string{"us-west-2": "AccessDenied"}})
	d := v.Health["us-east-1"].Detail
	for _, want := range []string{"eu-west-1 ALARM", "us-west-2 unreadable (AccessDenied)", "quorum 2 of 2"} {
		if !strings.Contains(d, want) {
			t.Errorf("detail %q lacks %q", d, want)
		}
	}
	if c := v.Counted(); !strings.Contains(c, "2/3 observers read") || !strings.Contains(c, "us-west-2 (AccessDenied)") {
		t.Errorf("counted %q", c)
	}
}

func TestQuorumReaderNeedsAValidTopology(t *testing.T) {
	if _, err := NewQuorumReader(nil, Topology{Members: []string{"a"}}); err == nil {
		t.Error("nil reader accepted")
	}
	if _, err := NewQuorumReader(&AlarmReader{}, Topology{Members: []string{"a", "a"}}); err == nil {
		t.Error("duplicate Region accepted")
	}
}
