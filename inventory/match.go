package inventory

import (
	"fmt"
	"path"
	"strings"
)

// Match reports whether h is selected by pattern. Patterns are shared by
// role selectors and --limit:
//
//	group:NAME   every host in group NAME (directly or through child groups)
//	host:NAME    the host called NAME
//	GLOB         host names matching the shell glob (path.Match syntax)
//
// A malformed glob is an error.
func Match(pattern string, h *Host) (bool, error) {
	switch {
	case strings.HasPrefix(pattern, "group:"):
		return h.InGroup(strings.TrimPrefix(pattern, "group:")), nil
	case strings.HasPrefix(pattern, "host:"):
		return h.Name == strings.TrimPrefix(pattern, "host:"), nil
	}
	ok, err := path.Match(pattern, h.Name)
	if err != nil {
		return false, fmt.Errorf("bad host pattern %q: %w", pattern, err)
	}
	return ok, nil
}

// MatchAny reports whether any of patterns selects h.
func MatchAny(patterns []string, h *Host) (bool, error) {
	for _, p := range patterns {
		ok, err := Match(p, h)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}
