package routing

import (
	"testing"
	"time"
)

// BenchmarkDecide measures one decision over five Regions: failover of the primary in
// active-passive and an unchanged active-active table.
func BenchmarkDecide(b *testing.B) {
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2", "ap-northeast-1"}
	routes := map[string]int{}
	health := map[string]RegionHealth{}
	for _, r := range regions {
		routes[r] = Passive
		health[r] = RegionHealth{State: OK, Since: t0.Add(-time.Hour)}
	}
	routes[regions[0]] = Active
	health[regions[0]] = RegionHealth{State: Alarm, Since: t0.Add(-time.Minute)}
	cases := []struct {
		name string
		in   Input
	}{
		{"active-passive-failover", Input{Routes: routes, Health: health, Now: t0, Policy: Policy{Mode: ActivePassive, Priority: regions, Cooldown: 5 * time.Minute, Failback: true, FailbackWindow: 15 * time.Minute}}},
		{"active-active-steady", Input{Routes: map[string]int{"us-east-1": 100, "us-west-2": 100, "eu-west-1": 100, "ap-southeast-2": 100, "ap-northeast-1": 100},
			Health: map[string]RegionHealth{"us-east-1": {State: OK}, "us-west-2": {State: OK}, "eu-west-1": {State: OK}, "ap-southeast-2": {State: OK}, "ap-northeast-1": {State: OK}},
			Now:    t0, Policy: Policy{Mode: ActiveActive, MinActive: 2, Cooldown: 5 * time.Minute}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d := Decide(c.in); d.Err != nil {
					b.Fatal(d.Err)
				}
			}
		})
	}
}
