package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/tendhq/tend/engine"
	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/inventory"
	"github.com/tendhq/tend/resources"
)

// touchBatch is a test kind whose changes are applied in batches: it creates
// empty files, all of a host's in one real sh call.
type touchBatch struct {
	addr resources.Addr
	path string
}

var batchCalls atomic.Int32

func init() {
	resources.Register(&resources.Kind{
		Name:       "test_touch",
		Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}},
		New: func(b *resources.Block) (resources.Resource, hcl.Diagnostics) {
			return &touchBatch{addr: b.Addr, path: b.Attrs["path"].Value.AsString()}, nil
		},
	})
}

func (r *touchBatch) Addr() resources.Addr       { return r.addr }
func (r *touchBatch) Observe(p *resources.Probe) { p.Path(r.path, false) }
func (r *touchBatch) BatchKey() string           { return "test_touch" }

func (r *touchBatch) Diff(o *resources.Observed) (*resources.Change, error) {
	s, err := o.Path(r.path)
	if err != nil {
		return nil, err
	}
	c := &resources.Change{Addr: r.addr}
	if !s.Exists {
		c.Action = resources.Create
	}
	return c, nil
}

func (r *touchBatch) Apply(ctx context.Context, t *resources.Target, c *resources.Change) error {
	return fmt.Errorf("%s: a batch kind is applied through ApplyBatch", r.addr)
}

func (r *touchBatch) ApplyBatch(ctx context.Context, t *resources.Target, rs []resources.BatchResource, cs []*resources.Change) ([]error, error) {
	batchCalls.Add(1)
	args := []string{"sh", "-c", `for p; do : > "$p" || exit 1; done`, "sh"}
	for _, b := range rs {
		args = append(args, b.(*touchBatch).path)
	}
	res, err := t.Transport.Run(ctx, inventory.Cmd{Args: args})
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("touch: %s", res.Stderr)
	}
	return nil, nil
}

// All changed members of a batch are applied in one call, after the
// dependencies of every member and before the dependents of any.
func TestBatchAppliedOnce(t *testing.T) {
	root := t.TempDir()
	var spec strings.Builder
	spec.WriteString(`role "r" {
  hosts = ["*"]
  directory "d" {
    path = "${host.vars.root}/d"
  }
  file "after" {
    path       = "${host.vars.root}/after"
    content    = "x"
    depends_on = [test_touch["t3"]]
  }
`)
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&spec, "  test_touch \"t%d\" {\n    path       = \"${host.vars.root}/d/t%d\"\n    depends_on = [directory[\"d\"]]\n  }\n", i, i)
	}
	spec.WriteString("}\n")
	graphs := compile(t, spec.String(), root)
	batchCalls.Store(0)
	run := engine.Run(context.Background(), graphs, engine.Options{Apply: true, Dial: localDial(t), StateDir: t.TempDir()})
	h := run.Hosts[0]
	for _, r := range h.Resources {
		if r.Status != report.StatusApplied {
			t.Errorf("%s: %s %s", r.Addr, r.Status, r.Error)
		}
	}
	if n := batchCalls.Load(); n != 1 {
		t.Errorf("the batch was applied in %d calls, want 1", n)
	}
	for i := 0; i < 5; i++ {
		if _, err := os.Stat(filepath.Join(root, "d", fmt.Sprintf("t%d", i))); err != nil {
			t.Error(err)
		}
	}
}

// When merging a batch would close a cycle (t0 -> file -> t1), its members
// are applied one by one, in dependency order.
func TestBatchCycleFallsBack(t *testing.T) {
	root := t.TempDir()
	graphs := compile(t, `role "r" {
  hosts = ["*"]
  test_touch "t0" {
    path       = "${host.vars.root}/t0"
    depends_on = [file["mid"]]
  }
  file "mid" {
    path       = "${host.vars.root}/mid"
    content    = "x"
    depends_on = [test_touch["t1"]]
  }
  test_touch "t1" {
    path = "${host.vars.root}/t1"
  }
}
`, root)
	batchCalls.Store(0)
	run := engine.Run(context.Background(), graphs, engine.Options{Apply: true, Dial: localDial(t), StateDir: t.TempDir()})
	for _, r := range run.Hosts[0].Resources {
		if r.Status != report.StatusApplied {
			t.Errorf("%s: %s %s", r.Addr, r.Status, r.Error)
		}
	}
	if n := batchCalls.Load(); n != 2 {
		t.Errorf("%d batch calls, want 2 (one per member)", n)
	}
}
