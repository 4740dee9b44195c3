package reconcile

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// ProgressBar returns a Progress function that redraws one line on w (a terminal): a bar when
// the total is estimated, keys scanned, repairs planned and done, rates and ETA.
func ProgressBar(w io.Writer) func(Progress) {
	return func(p Progress) {
		var b strings.Builder
		b.WriteString("\r")
		if p.EstimatedKeys > 0 {
			frac := min(1, float64(p.KeysScanned)/float64(p.EstimatedKeys))
			if p.Done {
				frac = 1
			}
			n := int(frac * 20)
			fmt.Fprintf(&b, "[%s%s] %3.0f%% ", strings.Repeat("#", n), strings.Repeat(".", 20-n), frac*100)
		}
		fmt.Fprintf(&b, "%d keys  %d planned  %d done  %d failed  %.0f keys/s  %.0f repairs/s",
			p.KeysScanned, p.RepairsPlanned, p.RepairsDone, p.RepairsFailed, p.KeysPerSecond, p.RepairsPerSecond)
		if p.ETA > 0 {
			fmt.Fprintf(&b, "  ETA %s", p.ETA.Round(time.Second))
		}
		if p.Done {
			b.WriteString("\n")
		} else {
			b.WriteString("\x1b[K")
		}
		_, _ = io.WriteString(w, b.String())
	}
}

// WriteSummary writes the end-of-run summary for humans.
func WriteSummary(w io.Writer, s Summary, dryRun bool) {
	state := "complete"
	if !s.Complete {
		state = fmt.Sprintf("stopped after %q (the checkpoint resumes it)", s.After)
	}
	verb := "repaired"
	if dryRun {
		verb = "would repair (dry run)"
	}
	fmt.Fprintf(w, "reconcile %s in %s\n", state, s.Elapsed.Round(time.Millisecond))
	// Already fine: the keys scanned that every Region holds alike (neither divergent nor left).
	fine := max(0, s.Run.KeysScanned-s.Run.DivergentKeys-s.Run.Skipped)
	fmt.Fprintf(w, "  this run:  %d keys scanned, %d already fine, %d origin reads, %d divergent keys, %d repairs planned, %d %s, %d found done meanwhile, %d failed, %d keys left for later\n",
		s.Run.KeysScanned, fine, s.Run.Reads, s.Run.DivergentKeys, s.Run.RepairsPlanned, s.Run.RepairsDone, verb, s.Run.RepairsSkipped, s.Run.RepairsFailed, s.Run.Skipped)
	if x := s.Run.IndexStats; x != (IndexStats{}) {
		fmt.Fprintf(w, "  index:     %d keys settled without a read, %d chunks read, %d rejected (their keys read), %d written, %d write errors\n",
			x.KeysSettled, x.ChunksRead, x.ChunksRejected, x.ChunksWritten, x.WriteErrors)
	}
	for _, p := range s.IndexProblems {
		fmt.Fprintf(w, "  index problem: %s\n", p)
	}
	if s.Resumed {
		fmt.Fprintf(w, "  whole pass: %d keys scanned, %d repairs planned, %d done, %d failed\n",
			s.Pass.KeysScanned, s.Pass.RepairsPlanned, s.Pass.RepairsDone, s.Pass.RepairsFailed)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Run.ByKind)) {
		fmt.Fprintf(w, "  %-22s %d\n", k, s.Run.ByKind[k])
	}
	for _, f := range s.Failures {
		fmt.Fprintf(w, "  failure: %s\n", f)
	}
}
