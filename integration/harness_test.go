package integration

// Shared helpers of the end-to-end tests: local Regions, built functions, child processes.
// Keep them small and generic; test-specific logic stays in its own file.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
)

// skipShort skips an integration test under `go test -short`.
func skipShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration: starts local peers")
	}
}

// moduleRoot is the folder holding go.mod.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the test's working directory")
		}
		dir = parent
	}
}

// startRegions starts one versitygw per Region, each with its own bucket "mrap-<region>" and
// data folder, all with the same (default) credentials like one AWS account. They stop when
// the test ends.
func startRegions(tb testing.TB, regions ...string) []*s3server.Server {
	tb.Helper()
	return s3servertest.StartRegions(tb, s3server.Options{}, regions...)
}

// memberEnv renders the servers as MRAP_MEMBERS and MRAP_ENDPOINTS values.
func memberEnv(servers []*s3server.Server) (members, endpoints string) {
	var m, e []string
	for _, s := range servers {
		m = append(m, s.Region+"="+s.Bucket)
		e = append(e, s.Region+"="+s.Endpoint)
	}
	return strings.Join(m, ","), strings.Join(e, ",")
}

// buildFunction builds functions/<fn> as `make build` does (CGO_ENABLED=0, -tags lambda.norpc,
// -trimpath, -ldflags "-s -w") but for linux/<goarch>, into a temporary folder, and returns
// the path of its bootstrap.
func buildFunction(tb testing.TB, fn, goarch string) string {
	tb.Helper()
	root := moduleRoot(tb)
	if _, err := os.Stat(filepath.Join(root, "functions", fn, "main.go")); err != nil {
		tb.Fatalf("functions/%s/main.go is missing: %v", fn, err)
	}
	out := filepath.Join(tb.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, "./functions/"+fn)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build functions/%s for linux/%s: %v\n%s", fn, goarch, err, b)
	}
	return out
}

// hostArch is the GOARCH of binaries this machine runs.
func hostArch() string { return runtime.GOARCH }

// freeAddr returns "127.0.0.1:PORT" for a port that was free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a child process in its own process group, with its output kept for failure reports.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	err    error
	once   sync.Once
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProc starts name with args in dir with exactly env, and stops its whole process group
// when the test ends (printing its output if the test failed).
func startProc(tb testing.TB, dir string, env []string, name string, args ...string) *proc {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{name: filepath.Base(name), cmd: cmd, out: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		p.stop()
		if tb.Failed() {
			tb.Logf("%s output:\n%s", p.name, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM to the process group, then SIGKILL after 3s.
func (p *proc) stop() {
	p.once.Do(func() {
		pgid := -p.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
			<-p.exited
		}
		// Children that outlived the leader.
		_ = syscall.Kill(pgid, syscall.SIGKILL)
	})
}

// waitTCP waits until addr accepts connections, failing early if p exits.
func waitTCP(tb testing.TB, p *proc, addr string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			tb.Fatalf("%s exited early (%v):\n%s", p.name, p.err, p.out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("%s not listening on %s after %s:\n%s", p.name, addr, timeout, p.out.String())
}

// baseEnv is a minimal environment for a child: PATH, HOME and temp dir, no AWS settings of
// the person running the tests.
func baseEnv(extra ...string) []string {
	env := []string{"AWS_EC2_METADATA_DISABLED=true"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// must fails the test on err.
func must(tb testing.TB, err error, format string, args ...any) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
