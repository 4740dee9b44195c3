package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LockFile is the file in the data folder that the running runtime holds an exclusive flock on.
const LockFile = "runtime.lock"

// DataLock is the exclusive hold of one runtime on its data folder: one runtime per folder.
// The kernel drops the lock when the process exits, however it exits, so a crashed runtime
// never leaves the folder locked.
type DataLock struct {
	dir string
	f   *os.File
}

// lockHolder is what the lock file says about the process holding it.
type lockHolder struct {
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
}

// ErrDataDirInUse is returned (wrapped) when another runtime holds the data folder.
var ErrDataDirInUse = errors.New("data folder in use")

// LockDataDir takes the data folder (creating it if needed) for this process. When another
// process holds it, it returns an error wrapping ErrDataDirInUse that names that process,
// and writes nothing in the folder.
func LockDataDir(dataDir string) (*DataLock, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data folder lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is used by another local runtime%s; stop that one first (Ctrl-C in its terminal), or start this one with --data OTHER-FOLDER",
				ErrDataDirInUse, dir, describeHolder(f))
		}
		return nil, fmt.Errorf("data folder lock %s: %w", path, err)
	}
	b, _ := json.Marshal(lockHolder{PID: os.Getpid(), StartedAt: time.Now().UTC().Truncate(time.Second)})
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("data folder lock %s: %w", path, err)
		}
	}
	return &DataLock{dir: dir, f: f}, nil
}

func describeHolder(f *os.File) string {
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	var h lockHolder
	if n == 0 || json.Unmarshal(b[:n], &h) != nil || h.PID == 0 {
		return " (it is still starting)"
	}
	return fmt.Sprintf(" (pid %d, started %s)", h.PID, h.StartedAt.Local().Format(time.DateTime+" MST"))
}

// Dir is the absolute data folder the lock holds.
func (l *DataLock) Dir() string { return l.dir }

// Release gives the folder up. The lock file stays (deleting it would race a new holder).
func (l *DataLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
