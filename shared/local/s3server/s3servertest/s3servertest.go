// Package s3servertest starts local Regions (versitygw, shared/local/s3server) for tests:
// the one "skip under -short, start, fail the test if it cannot, stop when it ends" block
// every versitygw-backed test shares.
package s3servertest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/local/s3server"
)

// startTimeout bounds the start of one Region (the wait for versitygw to answer).
const startTimeout = 30 * time.Second

// Start starts one local Region for the test and stops it when the test ends. It skips the
// test under -short (versitygw is a process and a bucket on disk) and fails it when the
// Region cannot start. An empty opts.DataDir is a fresh temporary folder.
func Start(tb testing.TB, opts s3server.Options) *s3server.Server {
	tb.Helper()
	return StartRegions(tb, opts, opts.Region)[0]
}

// StartRegions starts one local Region per name in parallel, each with base's options, its
// own Region name, bucket "mrap-<region>" (unless base names one) and data folder (under
// base.DataDir when set, else a temporary folder), and stops them in parallel when the test
// ends. Like Start it skips under -short and fails the test when any Region cannot start.
func StartRegions(tb testing.TB, base s3server.Options, regions ...string) []*s3server.Server {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts versitygw; skipped under -short")
	}
	root := base.DataDir
	if root == "" {
		root = tb.TempDir()
	}
	out := make([]*s3server.Server, len(regions))
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		o := base
		o.Region, o.DataDir = r, root
		if len(regions) > 1 {
			o.DataDir = filepath.Join(root, r)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
			defer cancel()
			if out[i], errs[i] = s3server.Start(ctx, o); errs[i] != nil {
				errs[i] = fmt.Errorf("start Region %s: %w", r, errs[i])
			}
		}()
	}
	wg.Wait()
	tb.Cleanup(func() { // in parallel: each stop may wait for idle client connections
		var wg sync.WaitGroup
		for _, s := range out {
			if s != nil {
				wg.Add(1)
				go func() { defer wg.Done(); _ = s.Stop() }()
			}
		}
		wg.Wait()
	})
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	return out
}
