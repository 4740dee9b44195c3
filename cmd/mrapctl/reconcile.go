package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// cmdReconcile runs a reconcile pass against the local runtime or, with --aws, against the
// member buckets of MRAP_MEMBERS.
func cmdReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reconcile", "reconcile [flags]", stderr)
	data := fs.String("data", ".local", "data folder of the local runtime")
	onAWS := fs.Bool("aws", false, "reconcile the member buckets of MRAP_MEMBERS on AWS (credentials from AWS_PROFILE or the usual variables)")
	var o reconcile.Options
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
	checkpoint := fs.String("checkpoint", "", "checkpoint file or s3://bucket/key (default: DATA/reconcile-checkpoint.json locally, none on AWS)")
	fresh := fs.Bool("restart", false, "ignore the checkpoint and start a new pass")
	report := fs.String("report", "", "write every planned repair and its outcome to this file (JSON lines)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		fs.Usage()
		return fmt.Errorf("reconcile takes no arguments, got %q", strings.Join(pos, " "))
	}
	o.Exclude = reconcile.DefaultExclude()

	var (
		members []config.Member
		clients map[string]s3store.S3API
		sopts   s3store.Options
		err     error
	)
	if *onAWS {
		env := config.New(os.LookupEnv)
		members = env.Members("MRAP_MEMBERS")
		endpoints := env.Map("MRAP_ENDPOINTS")
		if err := env.Err(); err != nil {
			return fmt.Errorf("--aws: %w", err)
		}
		if clients, err = s3store.NewClients(ctx, members, endpoints, 5); err != nil {
			return err
		}
		sopts = s3store.Options{SameService: len(endpoints) == 0, TrustNotFound: len(endpoints) == 0}
	} else {
		ep, err := runtime.ReadEndpoints(*data)
		if err != nil {
			return err
		}
		endpoints := map[string]string{}
		for _, r := range ep.Regions {
			members = append(members, config.Member{Region: r.Region, Bucket: r.Bucket})
			endpoints[r.Region] = r.Endpoint
		}
		clients = s3store.ClientsFromConfig(s3store.StaticConfig(ep.AccessKeyID, ep.SecretAccessKey), members, endpoints, 0)
		sopts = s3store.Options{PartSize: 8 * s3store.MiB, Concurrency: 4}
		if *checkpoint == "" {
			*checkpoint = filepath.Join(*data, "reconcile-checkpoint.json")
		}
	}
	store, err := s3store.New(clients, sopts)
	if err != nil {
		return err
	}
	engine, err := replication.New(store, members, replication.Options{})
	if err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(*checkpoint, "s3://"):
		bucket, key, _ := strings.Cut(strings.TrimPrefix(*checkpoint, "s3://"), "/")
		if bucket == "" || key == "" {
			return fmt.Errorf("--checkpoint %q: want s3://bucket/key", *checkpoint)
		}
		o.Checkpoint = &s3store.CheckpointObject{Client: clients[members[0].Region], Bucket: bucket, Key: key}
	case *checkpoint != "":
		o.Checkpoint = reconcile.FileCheckpoint(*checkpoint)
	}
	if *fresh && o.Checkpoint != nil {
		if err := o.Checkpoint.Save(ctx, nil); err != nil {
			return fmt.Errorf("reset checkpoint: %w", err)
		}
	}
	if !*quiet {
		o.Progress = reconcile.ProgressBar(stderr)
	}
	var closeReport func() error
	if *report != "" {
		f, err := os.Create(*report)
		if err != nil {
			return err
		}
		closeReport = f.Close
		o.OnRepair = reportWriter(f)
	}
	r, err := reconcile.New(store, engine, members, o)
	if err != nil {
		return err
	}
	target := "local runtime in " + *data
	if *onAWS {
		target = "AWS"
	}
	fmt.Fprintf(stderr, "reconciling %d Regions (%s)%s\n", len(members), target, map[bool]string{true: ", dry run", false: ""}[o.DryRun])
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
