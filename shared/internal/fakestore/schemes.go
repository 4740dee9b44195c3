package fakestore

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Scheme is the version id scheme and random seed of one run of a package's tests.
type Scheme struct {
	IDs  IDs
	Seed uint64
}

// RunEachScheme runs a package's tests once per version id scheme that S3 allows and
// versitygw does not show (descending, then random), calling use before each run, and returns
// the exit code for os.Exit: a package's TestMain is
// `os.Exit(fakestore.RunEachScheme(m, func(s fakestore.Scheme) { scheme = s }))`.
// MRAP_FAKE_SEED replays the random ids of a printed seed.
func RunEachScheme(m interface{ Run() int }, use func(Scheme)) int {
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("MRAP_FAKE_SEED"), 10, 64); err == nil {
		seed = v
	}
	code := 0
	for _, ids := range []IDs{Descending, Random} {
		use(Scheme{IDs: ids, Seed: seed})
		fmt.Printf("fake version ids: %s (MRAP_FAKE_SEED=%d)\n", ids, seed)
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	return code
}
