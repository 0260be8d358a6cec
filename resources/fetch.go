package resources

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/tendhq/tend/inventory"
)

// FetchCmd returns the one remote execution that reads the current content
// of paths, so that a plan can show file changes as unified diffs. It is the
// second (and last) execution a plan may cost, and only runs when some file
// content differs. Paths travel on stdin, one per line.
func FetchCmd(paths []string) inventory.Cmd {
	var in bytes.Buffer
	for _, p := range paths {
		in.WriteString(p)
		in.WriteByte('\n')
	}
	return inventory.Cmd{Args: []string{"sh", "-c", fetchScript}, Stdin: &in}
}

// fetchScript prints, for each path, "C <size>" and then exactly size bytes,
// or "X" when it is not a readable regular file. The framing holds even when
// a file changes between wc and head: a file that grew is cut at size and one
// that shrank is padded with NULs up to size (the engine compares the
// content's hash with the probe's before it trusts it).
const fetchScript = `LC_ALL=C; export LC_ALL
while IFS= read -r p; do
  if [ -f "$p" ] && [ -r "$p" ] && n=$(wc -c < "$p" 2>/dev/null); then
    n=$((n+0)); printf 'C %s\n' "$n"
    { head -c "$n" -- "$p" 2>/dev/null; head -c "$n" /dev/zero; } | head -c "$n"
  else
    echo X
  fi
done
`

// ParseFetch splits the reply of FetchCmd(paths) into one entry per path;
// nil marks a path whose content could not be read.
func ParseFetch(paths []string, out []byte) ([][]byte, error) {
	res := make([][]byte, len(paths))
	for i, p := range paths {
		nl := bytes.IndexByte(out, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("content reply for %s: truncated", p)
		}
		head := string(out[:nl])
		out = out[nl+1:]
		if head == "X" {
			continue
		}
		if len(head) < 3 || head[:2] != "C " {
			return nil, fmt.Errorf("content reply for %s: unexpected %q", p, trim(head))
		}
		n, err := strconv.Atoi(head[2:])
		if err != nil || n < 0 || n > len(out) || strings.Trim(head[2:], "0123456789") != "" {
			return nil, fmt.Errorf("content reply for %s: bad size %q", p, head[2:])
		}
		res[i], out = out[:n:n], out[n:]
	}
	if len(out) != 0 {
		return nil, fmt.Errorf("content reply: %d unexpected bytes at the end", len(out))
	}
	return res, nil
}
