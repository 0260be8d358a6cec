// Package hclsrc parses the HCL files tend reads (specs, variable files,
// inventories, the agent's configuration) the same way everywhere: a file
// that is not valid UTF-8 is refused with one diagnostic at its first bad
// byte, before HCL's scanners see it. They do not promise positions in
// such input: a byte that starts a multi-byte sequence can swallow the
// newline after it, and every later diagnostic then names the wrong line.
package hclsrc

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/apparentlymart/go-textseg/v15/textseg"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Parse parses src as filename with p: HCL's JSON syntax when json is set,
// native syntax otherwise. When src is not valid UTF-8 it is not parsed:
// the file returned has the source and an empty body, p knows it (so that
// the diagnostic prints with its snippet), and the one diagnostic says
// where the bad byte is.
func Parse(p *hclparse.Parser, src []byte, filename string, json bool) (*hcl.File, hcl.Diagnostics) {
	if d := CheckUTF8(src, filename); d != nil {
		f := &hcl.File{Body: hcl.EmptyBody(), Bytes: src}
		p.AddFile(filename, f)
		return f, hcl.Diagnostics{d}
	}
	if json {
		return p.ParseJSON(src, filename)
	}
	return p.ParseHCL(src, filename)
}

// ParseConfig is hclsyntax.ParseConfig behind the same UTF-8 check, for a
// native file read without a parser.
func ParseConfig(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if d := CheckUTF8(src, filename); d != nil {
		return &hcl.File{Body: hcl.EmptyBody(), Bytes: src}, hcl.Diagnostics{d}
	}
	return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
}

// CheckUTF8 returns an error diagnostic whose subject is the first byte of
// src that is not part of valid UTF-8, or nil when src is valid. Its
// column counts characters (grapheme clusters) as HCL's own positions do.
func CheckUTF8(src []byte, filename string) *hcl.Diagnostic {
	if utf8.Valid(src) {
		return nil
	}
	at := 0
	for at < len(src) {
		r, n := utf8.DecodeRune(src[at:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		at += n
	}
	lineStart := bytes.LastIndexByte(src[:at], '\n') + 1
	line := bytes.Count(src[:lineStart], []byte("\n")) + 1
	col, err := textseg.TokenCount(src[lineStart:at], textseg.ScanGraphemeClusters)
	if err != nil { // cannot happen on valid UTF-8; count bytes then
		col = at - lineStart
	}
	start := hcl.Pos{Line: line, Column: col + 1, Byte: at}
	end := hcl.Pos{Line: line, Column: col + 2, Byte: at + 1}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid UTF-8",
		Detail: fmt.Sprintf("The file must be UTF-8 encoded, and byte 0x%02x does not begin a valid UTF-8 sequence here. "+
			"Convert the file to UTF-8 (iconv -t UTF-8), or write a non-text value with a function such as base64decode.", src[at]),
		Subject: &hcl.Range{Filename: filename, Start: start, End: end},
	}
}
