package engine

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// BenchmarkSynth measures a full synthesis (all stacks, cdk-nag AwsSolutions applied) of the
// 2- and 5-Region configurations: the cost of `make synth` after the Go build, without the
// one-off start of the jsii runtime (warmed up first).
func BenchmarkSynth(b *testing.B) {
	synthRegions(b, []string{"us-east-1", "us-west-2"}) // start jsii outside the timings
	for _, regions := range [][]string{{"us-east-1", "us-west-2"}, RoutesAPIRegions()} {
		b.Run(strings.Join(regions, ","), func(b *testing.B) {
			for b.Loop() {
				synthRegions(b, regions)
			}
		})
	}
}

func synthRegions(b *testing.B, regions []string) {
	out, err := os.MkdirTemp(codeDir, "bench-")
	if err != nil {
		b.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	// A witness outside the members: two members alone hold too few state copies.
	p := &Props{Account: "123456789012", Regions: regions, WitnessRegions: []string{"us-east-2"}, AssetDir: codeDir}
	if _, err := New(app, p); err != nil {
		b.Fatal(err)
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	app.Synth(nil)
}
