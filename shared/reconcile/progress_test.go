package reconcile

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressBar(t *testing.T) {
	tests := []struct {
		name string
		p    Progress
		want []string
		not  []string
	}{
		{name: "estimated total: bar, percent and ETA",
			p:    Progress{Counts: Counts{KeysScanned: 500, RepairsPlanned: 7, RepairsDone: 6, RepairsFailed: 1}, EstimatedKeys: 1000, KeysPerSecond: 250, RepairsPerSecond: 3, ETA: 2 * time.Second},
			want: []string{"\r[##########..........]  50% ", "500 keys  7 planned  6 done  1 failed  250 keys/s  3 repairs/s  ETA 2s", "\x1b[K"}},
		{name: "unknown total: counts and rates only",
			p:    Progress{Counts: Counts{KeysScanned: 42}, KeysPerSecond: 10},
			want: []string{"\r42 keys  0 planned"}, not: []string{"%", "ETA"}},
		{name: "done: full bar and a new line",
			p:    Progress{Counts: Counts{KeysScanned: 990}, EstimatedKeys: 1000, Done: true},
			want: []string{"[####################] 100%", "\n"}, not: []string{"\x1b[K"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			ProgressBar(&buf)(tt.p)
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("%q lacks %q", buf.String(), w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(buf.String(), n) {
					t.Errorf("%q has %q", buf.String(), n)
				}
			}
		})
	}
}

func TestWriteSummary(t *testing.T) {
	var buf bytes.Buffer
	WriteSummary(&buf, Summary{Complete: false, After: "k42", Resumed: true, Elapsed: 1500 * time.Millisecond,
		Run: Counts{KeysScanned: 10, DivergentKeys: 2, Skipped: 1, RepairsPlanned: 3, RepairsDone: 2, RepairsFailed: 1, ByKind: map[string]int64{"missing-replica": 3},
			IndexStats: IndexStats{KeysSettled: 6, ChunksRead: 1, ChunksRejected: 1, ChunksWritten: 2}},
		Pass:          Counts{KeysScanned: 30, RepairsPlanned: 5},
		Failures:      []string{"repair eu-west-1 \"k7\": AccessDenied"},
		IndexProblems: []string{"index chunk 4 of generation g not used (its keys are read): truncated"}}, false)
	for _, w := range []string{`stopped after "k42"`, "10 keys scanned, 7 already fine", "3 repairs planned, 2 repaired", "1 failed", "whole pass: 30 keys scanned, 5 repairs planned",
		"missing-replica", "failure: repair eu-west-1", "6 keys settled without a read, 1 chunks read, 1 rejected", "index problem: index chunk 4"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, buf.String())
		}
	}
}
