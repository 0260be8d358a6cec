package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// mergeMain is the "merge" subcommand: it combines the results.json files
// of several harness runs (for instance one run of the long Ansible sizes
// and one of the tend-only sizes) into OUT_DIR, recomputing the ratios and
// the targets. A result of a later file replaces the same tool, scenario
// and size of an earlier one. Arguments: OUT_DIR RESULTS_JSON...
func mergeMain(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tendbench merge OUT_DIR RESULTS_JSON...")
		return 2
	}
	var merged *Report
	for _, f := range args[1:] {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tendbench: read %s: %v\n", f, err)
			return 1
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			fmt.Fprintf(os.Stderr, "tendbench: parse %s: %v\n", f, err)
			return 1
		}
		if merged == nil {
			merged = &Report{Machine: r.Machine}
		}
		merged.Date = r.Date
		merged.Args = append(merged.Args, "run "+filepath.Base(filepath.Dir(f))+": "+strings.Join(r.Args, " "))
		for _, nr := range r.Results {
			replaced := false
			for i, old := range merged.Results {
				if old.N == nr.N && old.M == nr.M && old.Tool == nr.Tool && old.Scenario == nr.Scenario {
					merged.Results[i], replaced = nr, true
				}
			}
			if !replaced {
				merged.Results = append(merged.Results, nr)
			}
		}
	}
	sortResults(merged.Results)
	computeRatios(merged.Results)
	merged.Targets = targets(merged.Results)
	if err := save(args[0], merged); err != nil {
		fmt.Fprintln(os.Stderr, "tendbench:", err)
		return 1
	}
	writeTable(os.Stdout, merged.Results)
	fmt.Println("\nTargets:")
	writeTargets(os.Stdout, merged.Targets)
	return 0
}
