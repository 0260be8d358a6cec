package resources

import (
	"encoding/base64"
	"fmt"
)

// This file holds the content query of the probe: tend's own small files on
// the host (the managed-state manifest) are read by the same single remote
// execution that observes the resources, base64-encoded on one record line.

// ContentLimit is the largest file a content query reads; a larger file is
// an error record, never a truncated content.
const ContentLimit = 1 << 20

// contentState is the answer to a content query.
type contentState struct {
	exists bool
	data   []byte
	err    string
	// same is true when the host answered that the file is the content
	// the probe already knew (Probe.ContentUnless); data is nil then.
	same bool
}

// knownContent is what the control side expects a file to hold
// (Probe.ContentUnless): its hex sha256, which the query carries so that
// the host sends the content only when it differs, and the content itself,
// made only if a caller asks for it.
type knownContent struct {
	text Text
	sum  string
}

// Content asks for the whole content of a regular file of at most
// ContentLimit bytes (following symlinks). It costs two processes on the
// host per path: use it for tend's own small files, not for managed ones
// (those are hashed by Path).
func (p *Probe) Content(path string) { p.add(query{qContent, path}) }

// ContentUnless is Content for a file the control side expects to hold
// known, whose hex sha256 is sum: the query carries the hash, and when the
// host's file has it the host answers "same" instead of the content (one
// sha256sum, no base64 of the whole file on the wire). Observed.ContentSame
// then reports it, and Observed.Content makes the content with known.
func (p *Probe) ContentUnless(path, sum string, known Text) {
	p.add(query{qContent, path})
	if p.known == nil {
		p.known = map[string]knownContent{}
	}
	p.known[path] = knownContent{text: known, sum: sum}
}

// Content returns the content of a file asked for with Probe.Content, and
// whether it exists. A file the host could not read (permissions, not a
// regular file, larger than ContentLimit) is an error, never "absent".
func (o *Observed) Content(path string) (data []byte, exists bool, err error) {
	c, ok := o.contents[path]
	if !ok {
		return nil, false, fmt.Errorf("content of %s was not probed", path)
	}
	if c.err != "" {
		return nil, false, fmt.Errorf("read %s: %s", path, c.err)
	}
	if c.same {
		// Made again now; it must still be what the host has.
		k := o.known[path]
		data := k.text.AppendText(nil)
		if HashOf(data) != k.sum {
			return nil, false, fmt.Errorf("content of %s: the known content changed since the probe", path)
		}
		return data, true, nil
	}
	return c.data, c.exists, nil
}

// ContentSame reports whether the host answered a Probe.ContentUnless query
// with "same": its file is, by sha256, the content the probe knew.
func (o *Observed) ContentSame(path string) bool {
	c := o.contents[path]
	return c != nil && c.same
}

// recordContent applies the R record of a content query: "content BASE64"
// (empty for an empty file), "same" (the file is the known content of a
// Probe.ContentUnless query), "absent" or "error MESSAGE".
func (o *Observed) recordContent(q query, rtype string, val []byte, primary func() error) error {
	c := &contentState{}
	switch rtype {
	case "content":
		data := make([]byte, base64.StdEncoding.DecodedLen(len(val)))
		n, err := base64.StdEncoding.Decode(data, val)
		if err != nil {
			return fmt.Errorf("bad base64 content of %s: %v", q.arg, err)
		}
		data = data[:n]
		if len(data) > ContentLimit {
			c.err = fmt.Sprintf("%s is larger than %d bytes", q.arg, ContentLimit)
			break
		}
		c.exists, c.data = true, data
	case "same":
		if _, ok := o.known[q.arg]; !ok || len(val) != 0 {
			return fmt.Errorf("bad same record %q for %s, whose content was not known", val, q.arg)
		}
		c.exists, c.same = true, true
	case "absent":
		if len(val) != 0 {
			return fmt.Errorf("bad absent record %q for %s", val, q.arg)
		}
	case "error":
		c.err = string(val)
		if len(val) == 0 {
			c.err = "unknown error"
		}
	default:
		return fmt.Errorf("unknown record %q for %c %s", rtype, q.typ, q.arg)
	}
	if err := primary(); err != nil {
		return err
	}
	put(&o.contents, q.arg, c)
	return nil
}
