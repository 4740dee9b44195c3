package integration

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoEnginePackageImportsTheLocalWing reads the imports of every non-test Go file of the
// engine (events/, shared/ outside shared/local/, functions/) and fails on any import of the
// local stand-in for AWS (shared/local/...): the engine must build and run on AWS without it
// (docs/architecture.md, "The two wings"). Tests may use shared/local/s3server/s3servertest.
func TestNoEnginePackageImportsTheLocalWing(t *testing.T) {
	root := moduleRoot(t)
	const local = "github.com/mrap-engine/mrap/shared/local"
	files := 0
	for _, dir := range []string{"events", "shared", "functions"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				if rel == filepath.Join("shared", "local") || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			files++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if p == local || strings.HasPrefix(p, local+"/") {
					t.Errorf("%s imports %s: the engine must not depend on the local wing", rel, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 50 {
		t.Fatalf("read only %d engine files: the walk missed the tree", files)
	}
}
