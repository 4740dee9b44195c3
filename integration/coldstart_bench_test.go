package integration

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// coldStartEnv is one environment every function accepts at init: two member Regions whose
// endpoints are a closed local port (init builds clients and never calls them), the failover
// and prober settings, a reconcile checkpoint outside the members.
func coldStartEnv() []string {
	const closed = "http://127.0.0.1:1"
	return []string{
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDCOLDSTART", "AWS_SECRET_ACCESS_KEY=coldstart-secret",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		"MRAP_MEMBERS=us-east-1=mrap-us-east-1,eu-west-1=mrap-eu-west-1",
		"MRAP_ENDPOINTS=us-east-1=" + closed + ",eu-west-1=" + closed,
		"MRAP_ACCOUNT_ID=123456789012",
		"MRAP_ARN=arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap",
		"MRAP_ALARM_PREFIX=mrap-engine-health-",
		"MRAP_CONTROL_ENDPOINT=" + closed,
		"MRAP_RECONCILE_CHECKPOINT=s3://mrap-state/reconcile.json",
		"MRAP_MAX_ATTEMPTS=1",
	}
}

// coldStart is one measured cold start under the Lambda RIE.
type coldStart struct {
	total time.Duration // emulator process launched to the first invocation's response
}

// measureColdStart launches a fresh aws-lambda-rie with bootstrap and invokes it as soon as
// the emulator accepts connections (polled every millisecond): the time from launch to the
// response covers the emulator's start, the function's init and one invocation.
func measureColdStart(tb testing.TB, bootstrap string, payload []byte) coldStart {
	tb.Helper()
	rie := findTool(tb, "aws-lambda-rie")
	emu, api := freeAddr(tb), freeAddr(tb)
	url := "http://" + emu + "/2015-03-31/functions/function/invocations"
	start := time.Now()
	p := startProc(tb, filepath.Dir(bootstrap), baseEnv(coldStartEnv()...), rie,
		"--runtime-interface-emulator-address", emu, "--runtime-api-address", api,
		"./"+filepath.Base(bootstrap))
	defer p.stop()
	var c coldStart
	for {
		resp, err := http.Post(url, "application/json", bytes.NewReader(payload))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			c.total = time.Since(start)
			if resp.StatusCode != http.StatusOK {
				tb.Fatalf("invoke %s: HTTP %d", bootstrap, resp.StatusCode)
			}
			break
		}
		if time.Since(start) > 15*time.Second {
			tb.Fatalf("emulator not answering after 15s: %v\n%s", err, p.out.String())
		}
		time.Sleep(time.Millisecond)
	}
	return c
}

// measureInit runs bootstrap against a minimal Runtime API of its own and returns the time
// from the process's start to its first GET /2018-06-01/runtime/invocation/next: Lambda's
// definition of the init phase (config, clients, then lambda.Start asks for work).
func measureInit(tb testing.TB, bootstrap string) time.Duration {
	tb.Helper()
	next := make(chan time.Time, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/runtime/invocation/next") {
			select {
			case next <- time.Now():
			default:
			}
		}
		<-r.Context().Done() // hold the poll: no invocation
	}))
	defer api.Close()
	env := append(coldStartEnv(), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"))
	start := time.Now()
	p := startProc(tb, filepath.Dir(bootstrap), baseEnv(env...), bootstrap)
	defer p.stop()
	select {
	case at := <-next:
		return at.Sub(start)
	case <-p.exited:
		tb.Fatalf("%s exited during init (%v):\n%s", bootstrap, p.err, p.out.String())
	case <-time.After(15 * time.Second):
		tb.Fatalf("%s did not ask for an invocation within 15s:\n%s", bootstrap, p.out.String())
	}
	return 0
}

// buildHello builds the hello-world baseline (integration/testdata/hello) with the flags of
// `make build` for linux/goarch.
func buildHello(tb testing.TB, goarch string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, "./integration/testdata/hello")
	cmd.Dir = moduleRoot(tb)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build the hello baseline: %v\n%s", err, b)
	}
	return out
}

func fileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	must(tb, err, "stat %s", path)
	return fi.Size()
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkColdStart measures each function (functions/<fn>, built like `make build` but for
// the host architecture) next to a hello-world aws-lambda-go handler built the same way
// (integration/testdata/hello). One op is one cold start of each kind below, each a fresh
// process; the metrics are medians over the ops:
//
//	init-ms            process start to its first /runtime/invocation/next (Lambda's init
//	                   phase: configuration, SDK clients, lambda.Start), against a minimal
//	                   Runtime API of the benchmark's own
//	rie-first-ms       a fresh aws-lambda-rie launched with the function to the response of the
//	                   first invocation ({}), polled every millisecond: the emulator's start,
//	                   init and one invocation
//	binary-MiB         size of bootstrap
//	init-vs-hello      init-ms divided by the hello baseline's
//	rie-vs-hello       rie-first-ms divided by the hello baseline's
//	size-vs-hello      binary size divided by the hello baseline's
//
// The RIE's own "Init Duration" is not used: this emulator starts the runtime before the
// first invocation and reports microseconds. Every function answers {} without S3 calls
// except the prober (its first invocation probes a closed local port once).
//
// Run: go test -run '^$' -bench BenchmarkColdStart -benchtime 10x ./integration/
func BenchmarkColdStart(b *testing.B) {
	skipShort(b)
	arch := hostArch()
	hello := buildHello(b, arch)
	var helloInit, helloRIE []time.Duration
	for range 7 {
		helloInit = append(helloInit, measureInit(b, hello))
		helloRIE = append(helloRIE, measureColdStart(b, hello, []byte("{}")).total)
	}
	helloSize := fileSize(b, hello)
	b.Logf("hello baseline (linux/%s): %d bytes, init %v, rie-first %v (medians of 7)", arch, helloSize, median(helloInit), median(helloRIE))

	fns, err := filepath.Glob(filepath.Join(moduleRoot(b), "functions", "*", "main.go"))
	must(b, err, "list functions")
	if len(fns) == 0 {
		b.Fatal("no functions/*/main.go")
	}
	names := []string{"hello"}
	for _, f := range fns {
		names = append(names, filepath.Base(filepath.Dir(f)))
	}
	for _, fn := range names {
		b.Run(fn, func(b *testing.B) {
			bootstrap := hello
			if fn != "hello" {
				bootstrap = buildFunction(b, fn, arch)
			}
			size := fileSize(b, bootstrap)
			var inits, rie []time.Duration
			for b.Loop() {
				inits = append(inits, measureInit(b, bootstrap))
				rie = append(rie, measureColdStart(b, bootstrap, []byte("{}")).total)
			}
			b.Logf("%s: init %v; rie-first %v", fn, inits, rie)
			b.ReportMetric(ms(median(inits)), "init-ms")
			b.ReportMetric(ms(median(rie)), "rie-first-ms")
			b.ReportMetric(float64(size)/(1<<20), "binary-MiB")
			b.ReportMetric(float64(median(inits))/float64(median(helloInit)), "init-vs-hello")
			b.ReportMetric(float64(median(rie))/float64(median(helloRIE)), "rie-vs-hello")
			b.ReportMetric(float64(size)/float64(helloSize), "size-vs-hello")
		})
	}
}
