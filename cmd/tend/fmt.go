package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/aymanbagabas/go-udiff"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"

	"github.com/tendhq/tend/engine/report"
	"github.com/tendhq/tend/internal/hclsrc"
)

// fmtFlags are the flags of tend fmt.
type fmtFlags struct {
	check bool
	diff  bool
}

func newFmt() *cobra.Command {
	f := &fmtFlags{}
	cmd := &cobra.Command{
		Use:   "fmt [PATH... (default .)]",
		Short: "Rewrite HCL specs and inventories in canonical form",
		Long: `Rewrite every *.hcl file in canonical form: the layout of terraform fmt
(hclwrite). Directories are searched recursively; hidden directories and
*.hcl.json files are skipped. The names of the files that changed are printed.

With --check nothing is written: the files that are not formatted are listed
and the exit code is 1 if there are any (for CI). --diff prints what changes
as unified diffs. A file with syntax errors is reported and left alone, and
the exit code is 1.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			return f.run(cmd.OutOrStdout(), cmd.ErrOrStderr(), args)
		},
	}
	cmd.Flags().BoolVar(&f.check, "check", false, "write nothing; list the files that are not formatted and exit 1 if there are any")
	cmd.Flags().BoolVar(&f.diff, "diff", false, "print the changes as unified diffs")
	return cmd
}

// run formats the files under paths. Files are handled in a stable order
// (arguments in order, each directory's files sorted), and every file is
// tried even when an earlier one failed.
func (f *fmtFlags) run(out, errOut io.Writer, paths []string) error {
	files, err := hclFiles(paths)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	var (
		diags    hcl.Diagnostics
		sources  = map[string]*hcl.File{}
		errs     []error
		unformed int
	)
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", name, err))
			continue
		}
		got, ds := formatHCL(name, src)
		if ds.HasErrors() {
			sources[name] = &hcl.File{Bytes: src}
			diags = append(diags, ds...)
			continue
		}
		if bytes.Equal(got, src) {
			continue
		}
		unformed++
		if !f.check {
			if err := writeAtomic(name, got); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		fmt.Fprintln(out, name)
		if f.diff {
			fmt.Fprint(out, udiff.Unified(name, name+" (formatted)", string(src), string(got)))
		}
	}
	if len(diags) > 0 {
		_ = report.Diagnostics(errOut, sources, diags, isTerminal(errOut))
	}
	switch {
	case len(errs) > 0:
		return &exitError{code: 1, err: errors.Join(errs...)}
	case diags.HasErrors(), f.check && unformed > 0:
		return &exitError{code: 1}
	}
	return nil
}

// formatHCL returns src in canonical form, or the syntax errors that keep
// it from being formatted (hclwrite formats broken input too, but the
// result would be a guess). name is used in the diagnostics' ranges.
func formatHCL(name string, src []byte) ([]byte, hcl.Diagnostics) {
	if d := hclsrc.CheckUTF8(src, name); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	if _, diags := hclwrite.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

// hclFiles lists the files fmt handles: each path that names a file, and the
// *.hcl files under each path that names a directory, without descending
// into hidden directories. A directory's files come sorted, and a file named
// twice is handled once.
func hclFiles(paths []string) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[filepath.Clean(p)] {
			seen[filepath.Clean(p)] = true
			files = append(files, p)
		}
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("format %s: %w", root, err)
		}
		if !st.IsDir() {
			// A file named on the command line is formatted whatever its
			// extension, as gofmt does.
			add(root)
			continue
		}
		var found []string
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			// Symbolic links are not followed: the file they point to is
			// formatted where it lives, if it is under one of the paths.
			if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".hcl") {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list files under %s: %w", root, err)
		}
		sort.Strings(found)
		for _, p := range found {
			add(p)
		}
	}
	return files, nil
}

// writeAtomic replaces the file at name with data: it writes a temporary file
// in the same directory, gives it the mode and owner of the old file, syncs
// it and renames it over the old one. A reader sees the old content or the
// new, never a mix; when the owner cannot be kept, the file is left as it
// was. A symbolic link named on the command line is followed, so the link
// stays a link.
func writeAtomic(name string, data []byte) error {
	target, err := filepath.EvalSymlinks(name)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	st, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tend-fmt-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return fmt.Errorf("keep the mode of %s: %w", name, err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		// Refuse rather than hand the file to whoever runs fmt.
		if err := tmp.Chown(int(sys.Uid), int(sys.Gid)); err != nil {
			return fmt.Errorf("keep the owner of %s: %w", name, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	done = true
	return nil
}
