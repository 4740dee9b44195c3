package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// cmdReconcile runs a reconcile pass against the local runtime or, with --aws, against the
// member buckets of MRAP_MEMBERS: parse the flags, open the member buckets, attach the
// checkpoint and the report, run and summarise.
func cmdReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseReconcileFlags(args, stderr)
	if err != nil {
		return err
	}
	t, err := openReconcileTarget(ctx, f)
	if err != nil {
		return err
	}
	if err := f.attachCheckpoint(ctx, t); err != nil {
		return err
	}
	return runReconcile(ctx, f, t, stdout, stderr)
}

// reconcileFlags is what the command line asks for.
type reconcileFlags struct {
	target                          targetFlags
	data, checkpoint, report, index string
	onAWS, fresh, quiet             bool
	opts                            reconcile.Options
}

// parseReconcileFlags reads the command line.
func parseReconcileFlags(args []string, stderr io.Writer) (*reconcileFlags, error) {
	f := &reconcileFlags{}
	o := &f.opts
	fs := newFlags("reconcile", "reconcile [flags]", stderr)
	fs.StringVar(&f.data, "data", ".local", "data folder of the local runtime")
	fs.BoolVar(&f.onAWS, "aws", false, "reconcile the member buckets of MRAP_MEMBERS on AWS (credentials from AWS_PROFILE or the usual variables)")
	f.target = addTargetFlags(fs)
	fs.StringVar(&o.Prefix, "prefix", "", "only keys with this prefix")
	fs.StringVar(&o.StartAfter, "start-after", "", "only keys after this one")
	fs.StringVar(&o.End, "end", "", "only keys before this one")
	fs.BoolVar(&o.DryRun, "dry-run", false, "plan and report, write nothing")
	fs.IntVar(&o.Workers, "workers", 16, "reads and repairs in flight")
	fs.IntVar(&o.PageSize, "page-size", 1000, "keys per batch (the checkpoint is saved after each)")
	fs.Float64Var(&o.RepairRate, "rate", 0, "most repairs per second (0: no limit)")
	fs.Float64Var(&o.ReadRate, "read-rate", 0, "most origin reads (HEAD) per second (0: no limit)")
	fs.DurationVar(&o.Budget, "budget", 0, "stop after about this long; run again to resume (0: no limit)")
	fs.DurationVar(&o.MinAge, "min-age", 0, "leave keys changed more recently than this to the replicator")
	fs.Int64Var(&o.EstimatedKeys, "estimated-keys", 0, "keys expected in the scope, for the ETA (default: the count of the previous pass)")
	fs.BoolVar(&o.TrustMatchingETags, "trust-etags", false, "count keys with the same size and ETag everywhere as converged without reading them")
	fs.BoolVar(&o.CompareTags, "tags", false, "also compare the tag sets of keys whose Regions hold the same version (one GetObjectTagging per Region per key) and write the origin copy's set where they differ")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "checkpoint file or s3://bucket/key (default: DATA/reconcile-checkpoint.json locally, none on AWS)")
	fs.BoolVar(&f.fresh, "restart", false, "ignore the checkpoint and start a new pass")
	fs.StringVar(&f.index, "index", "", "verified-versions index: a folder, s3://bucket/prefix/, or off (default: next to the checkpoint; keys a previous pass verified and whose versions have not changed are not read)")
	fs.StringVar(&f.report, "report", "", "write every planned repair and its outcome to this file (JSON lines)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	if pos, err := parse(fs, args); err != nil {
		return nil, err
	} else if len(pos) > 0 {
		fs.Usage()
		return nil, fmt.Errorf("reconcile takes no arguments, got %q", strings.Join(pos, " "))
	}
	var bad []string
	if o.Workers < 1 {
		bad = append(bad, fmt.Sprintf("--workers %d: want at least 1", o.Workers))
	}
	if o.PageSize < 1 {
		bad = append(bad, fmt.Sprintf("--page-size %d: want at least 1", o.PageSize))
	}
	if o.RepairRate < 0 || o.ReadRate < 0 {
		bad = append(bad, "--rate and --read-rate: want 0 (no limit) or more")
	}
	if o.Budget < 0 || o.MinAge < 0 {
		bad = append(bad, "--budget and --min-age: want 0 or more")
	}
	if len(bad) > 0 {
		fs.Usage()
		return nil, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	o.Exclude = reconcile.DefaultExclude()
	return f, nil
}

// reconcileTarget is the set of member buckets a pass runs over.
type reconcileTarget struct {
	name    string // for the operator: "AWS" or the local runtime's folder
	members []config.Member
	clients map[string]s3store.S3API
	store   *s3store.Store
}

// openReconcileTarget opens the member buckets: with --aws those of the environment, through
// the same loader and constructor as the reconciler function (s3store.LoadConfig, Open);
// else the local runtime's Regions from its endpoints file.
func openReconcileTarget(ctx context.Context, f *reconcileFlags) (*reconcileTarget, error) {
	if f.onAWS || f.target.discovers() {
		return openAWSReconcileTarget(ctx, f)
	}
	ep, err := runtime.ReadEndpoints(f.data)
	if err != nil {
		return nil, err
	}
	c := s3store.Config{Endpoints: map[string]string{}, Store: s3store.Options{PartSize: 8 * s3store.MiB, Concurrency: 4}}
	for _, r := range ep.Regions {
		c.Members = append(c.Members, config.Member{Region: r.Region, Bucket: r.Bucket})
		c.Endpoints[r.Region] = r.Endpoint
	}
	clients, store, err := s3store.OpenFromConfig(s3store.StaticConfig(ep.AccessKeyID, ep.SecretAccessKey), c)
	if err != nil {
		return nil, err
	}
	if f.checkpoint == "" {
		f.checkpoint = filepath.Join(f.data, "reconcile-checkpoint.json")
	}
	return &reconcileTarget{name: "local runtime in " + f.data, members: c.Members, clients: clients, store: store}, nil
}

// openAWSReconcileTarget opens the member buckets of the deployment found with --name or
// --outputs, or with --aws those of MRAP_MEMBERS in the environment.
func openAWSReconcileTarget(ctx context.Context, f *reconcileFlags) (*reconcileTarget, error) {
	env, name := config.New(os.LookupEnv), "AWS"
	var awsCfg aws.Config
	if f.target.discovers() {
		var err error
		if awsCfg, err = f.target.loadAWS(ctx); err != nil {
			return nil, err
		}
		dep, err := f.target.discover(ctx, awsCfg)
		if err != nil {
			return nil, err
		}
		env, name = config.New(mapLookup(dep.Settings.Env)), "AWS deployment "+dep.Settings.Name
	}
	c := s3store.LoadConfig(env)
	if err := env.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !f.target.discovers() {
		var err error
		if awsCfg, err = f.target.loadAWS(ctx); err != nil {
			return nil, err
		}
	}
	clients, store, err := s3store.OpenFromConfig(awsCfg, c)
	if err != nil {
		return nil, err
	}
	return &reconcileTarget{name: name, members: c.Members, clients: clients, store: store}, nil
}

// attachCheckpoint sets the pass's checkpoint from --checkpoint (an S3 object read with the
// first member's client, or a file) and empties it for --restart.
func (f *reconcileFlags) attachCheckpoint(ctx context.Context, t *reconcileTarget) error {
	var cp *docstore.Document
	switch {
	case strings.HasPrefix(f.checkpoint, "s3://"):
		bucket, key, _ := strings.Cut(strings.TrimPrefix(f.checkpoint, "s3://"), "/")
		if bucket == "" || key == "" {
			return fmt.Errorf("--checkpoint %q: want s3://bucket/key", f.checkpoint)
		}
		if len(t.members) == 0 {
			return fmt.Errorf("--checkpoint %q: no member Region to reach it through", f.checkpoint)
		}
		doc, err := docstore.Object(t.clients[t.members[0].Region], bucket, key)
		if err != nil {
			return err
		}
		cp, f.opts.Checkpoint = &doc, doc
	case f.checkpoint != "":
		doc, err := docstore.File(f.checkpoint)
		if err != nil {
			return fmt.Errorf("--checkpoint %q: %w", f.checkpoint, err)
		}
		cp, f.opts.Checkpoint = &doc, doc
	}
	if err := f.attachIndex(t); err != nil {
		return err
	}
	if f.fresh && cp != nil {
		if err := cp.Save(ctx, nil); err != nil {
			return fmt.Errorf("reset checkpoint: %w", err)
		}
	}
	return nil
}

// attachIndex sets the verified-versions index from --index: off, a folder, s3://bucket/prefix/
// (through the first member's client), or by default next to the checkpoint (index/ beside
// an S3 checkpoint object, reconcile-index/ beside a checkpoint file). Without a checkpoint
// there is no index (the checkpoint records its generations).
func (f *reconcileFlags) attachIndex(t *reconcileTarget) error {
	loc := f.index
	if loc == "off" || f.opts.Checkpoint == nil {
		return nil
	}
	if loc == "" {
		if strings.HasPrefix(f.checkpoint, "s3://") {
			bucket, key, _ := strings.Cut(strings.TrimPrefix(f.checkpoint, "s3://"), "/")
			loc = "s3://" + bucket + "/index/"
			if dir := path.Dir(key); dir != "." {
				loc = "s3://" + bucket + "/" + dir + "/index/"
			}
		} else {
			loc = filepath.Join(filepath.Dir(f.checkpoint), "reconcile-index")
		}
	}
	if !strings.HasPrefix(loc, "s3://") {
		// The folder's parent is the store and the folder the prefix: chunks are FOLDER/<config>/...
		dir, err := docstore.NewDir(filepath.Dir(filepath.Clean(loc)))
		if err != nil {
			return fmt.Errorf("--index %q: %w", loc, err)
		}
		f.opts.Index, f.opts.IndexPrefix = dir, filepath.Base(filepath.Clean(loc))+"/"
		return nil
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(loc, "s3://"), "/")
	if bucket == "" || prefix == "" || !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("--index %q: want s3://bucket/prefix/ (ending with /)", loc)
	}
	if len(t.members) == 0 {
		return fmt.Errorf("--index %q: no member Region to reach it through", loc)
	}
	s, err := docstore.NewS3(t.clients[t.members[0].Region], bucket)
	if err != nil {
		return err
	}
	f.opts.Index, f.opts.IndexPrefix = s, prefix
	return nil
}

// runReconcile runs the pass with the progress bar and the report, and prints the summary.
// Failed repairs exit 1; a stopped pass says how to resume.
func runReconcile(ctx context.Context, f *reconcileFlags, t *reconcileTarget, stdout, stderr io.Writer) error {
	o := f.opts
	if !f.quiet {
		o.Progress = reconcile.ProgressBar(stderr)
	}
	var closeReport func() error
	if f.report != "" {
		rf, err := os.Create(f.report)
		if err != nil {
			return err
		}
		closeReport = rf.Close
		o.OnRepair = reportWriter(rf)
	}
	engine, err := replication.New(t.store, t.members, replication.Options{})
	if err != nil {
		return err
	}
	r, err := reconcile.New(t.store, engine, t.members, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "reconciling %d Regions (%s)%s\n", len(t.members), t.name, map[bool]string{true: ", dry run", false: ""}[o.DryRun])
	s, err := r.Run(ctx)
	if closeReport != nil {
		if cerr := closeReport(); err == nil {
			err = cerr
		}
	}
	reconcile.WriteSummary(stdout, s, o.DryRun)
	if err != nil {
		return fmt.Errorf("reconcile stopped (run again to resume from the checkpoint): %w", err)
	}
	if s.Run.RepairsFailed > 0 || len(s.Failures) > 0 {
		return exitCode(1)
	}
	return nil
}

// reportLine is one line of --report.
type reportLine struct {
	Key          string `json:"key"`
	Region       string `json:"region"`
	Kind         string `json:"kind"`
	Action       string `json:"action"`
	SourceRegion string `json:"source_region,omitempty"`
	Origin       string `json:"origin"`
	Status       string `json:"status,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Error        string `json:"error,omitempty"`
}

func reportWriter(w io.Writer) func(reconcile.Repair, replication.Outcome) {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return func(r reconcile.Repair, o replication.Outcome) {
		l := reportLine{Key: r.Key, Region: r.Region, Kind: string(r.Kind), Action: string(r.Action), SourceRegion: r.SourceRegion,
			Origin: r.Origin.String(), Status: string(o.Status), Reason: o.Reason}
		if o.Err != nil {
			l.Error = o.Err.Error()
		}
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(l)
	}
}
