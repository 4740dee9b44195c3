package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLockDataDirRefusesASecondHolderAndNamesTheFirst(t *testing.T) {
	dir := t.TempDir()
	first, err := LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A second open file description in this same process conflicts like another process would.
	_, err = LockDataDir(dir)
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) ||
		!strings.Contains(err.Error(), "--data") {
		t.Fatalf("second lock: %v, want in use by pid %d with what to do", err, os.Getpid())
	}
	first.Release()
	again, err := LockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.Release()
}

func TestStartOnAFolderInUseLeavesTheRunningInstancesFiles(t *testing.T) {
	dir := t.TempDir()
	held, err := LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	endpoints := filepath.Join(dir, "endpoints.json")
	if err := os.WriteFile(endpoints, []byte(`{"global_endpoint":"http://127.0.0.1:9480"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// GlobalAddr is a port nobody can have: a start that got past the lock would fail on it.
	_, err = Start(context.Background(), Options{DataDir: dir, GlobalAddr: "127.0.0.1:1", Binary: "/nonexistent/versitygw"})
	if !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("Start on a held folder: %v, want ErrDataDirInUse", err)
	}
	if b, err := os.ReadFile(endpoints); err != nil || !strings.Contains(string(b), "9480") {
		t.Errorf("endpoints.json after the refused start = %q (%v), want it untouched", b, err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "endpoints.json,runtime.lock" {
		t.Errorf("data folder after the refused start holds %v, want only what was there", names)
	}
}

func TestFailedStartReleasesTheFolder(t *testing.T) {
	dir := t.TempDir()
	if _, err := Start(context.Background(), Options{DataDir: dir, Binary: "/nonexistent/versitygw"}); err == nil {
		t.Fatal("Start with no versitygw succeeded")
	}
	l, err := LockDataDir(dir)
	if err != nil {
		t.Fatalf("folder still locked after a failed start: %v", err)
	}
	l.Release()
}
