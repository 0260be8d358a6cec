package resources

import (
	"testing"
	"time"
)

// fuzzProbe is the probe FuzzParseProbe parses replies for: queries of
// every type, in a fixed order, so that the seed replies (recorded by
// running this probe's script on real hosts) keep their meaning. Changing
// it invalidates testdata/fuzz/FuzzParseProbe: record the seeds again.
//
//	0 p /etc/motd       5 U root   10 P no-such-pkg
//	1 h /etc/hostname   6 G root   11 S ssh.service
//	2 h /tmp/a link     7 k root   12 S cron.service
//	3 u root            8 P bash   13 x true (cwd /, 1 s)
//	4 g root            9 C bash   14 c /etc/hostname
func fuzzProbe() *Probe {
	p := NewProbe()
	p.Path("/etc/motd", false)
	p.Path("/etc/hostname", true)
	p.Path("/tmp/a link", true)
	p.User("root")
	p.Group("root")
	p.UserGroups("root")
	p.AuthorizedKeys("root")
	p.PackageCandidate("bash")
	p.Package("no-such-pkg")
	p.Unit("ssh.service")
	p.Unit("cron.service")
	p.Command(Guard{Argv: []string{"true"}, Cwd: "/", Timeout: time.Second})
	p.Content("/etc/hostname")
	return p
}

// FuzzParseProbe feeds arbitrary replies to ParseProbe for a probe holding
// queries of every type. It must never panic, and a reply it accepts must
// answer every query: each has an observed state (possibly an error the
// host reported), and the accessors return it rather than "not probed".
// The seed corpus (testdata/fuzz/FuzzParseProbe) holds replies recorded
// from this machine and from a Debian test host, and every input that once
// crashed; scripts/fuzz.sh runs it for a bounded time.
func FuzzParseProbe(f *testing.F) {
	p := fuzzProbe()
	f.Fuzz(func(t *testing.T, reply []byte) {
		o, err := ParseProbe(p, reply)
		if err != nil {
			if o != nil {
				t.Fatalf("ParseProbe returned an Observed with the error %v", err)
			}
			return
		}
		for _, q := range p.queries {
			if msg := unanswered(o, q); msg != "" {
				t.Errorf("accepted reply leaves %c %q unanswered: %s\n%q", q.typ, q.arg, msg, reply)
			}
		}
		_ = o.Paths()
	})
}

// unanswered says how o fails to answer q, "" when it answers it.
func unanswered(o *Observed, q query) string {
	switch q.typ {
	case qPath, qHash:
		s := o.paths[q.arg]
		switch {
		case s == nil:
			return "no state"
		case s.Err != "":
			// An error stands for the whole path; Path must report it.
		case s.Exists && s.Type == TypeSymlink && !s.hasTarget:
			return "a symlink without a target"
		case q.typ == qHash && s.Exists && s.Type == TypeFile && len(s.SHA256) != 64:
			return "a hashed file without a sha256"
		case !s.Exists && s.Type != "":
			return "an absent path with a type"
		}
		_, err := o.Path(q.arg)
		return errIfNotProbed(err, s.Err)
	case qUser, qGroup:
		m, get := o.users, o.User
		if q.typ == qGroup {
			m, get = o.groups, o.Group
		}
		if m[q.arg] == nil {
			return "no state"
		}
		_, err := get(q.arg)
		return errIfNotProbed(err, m[q.arg].Err)
	case qPasswd:
		e := o.passwd[q.arg]
		if e == nil {
			return "no state"
		}
		if e.Exists && e.Name != q.arg {
			return "the entry of another user"
		}
		_, err := o.Passwd(q.arg)
		return errIfNotProbed(err, e.Err)
	case qMember:
		m := o.members[q.arg]
		if m == nil {
			return "no state"
		}
		if m.exists && len(m.groups) == 0 {
			return "an existing user in no group"
		}
		_, _, err := o.UserGroups(q.arg)
		return errIfNotProbed(err, m.err)
	case qKeys:
		k := o.keys[q.arg]
		if k == nil {
			return "no state"
		}
		if k.Err == "" && k.Exists && (!k.hasCount || k.count != len(k.Lines)) {
			return "authorized_keys lines that do not match their count"
		}
		_, err := o.AuthorizedKeys(q.arg)
		return errIfNotProbed(err, k.Err)
	case qPackage:
		s := o.packages[q.arg]
		if s == nil {
			return "no state"
		}
		_, err := o.Package(q.arg)
		return errIfNotProbed(err, s.Err)
	case qCandidate:
		c := o.candidates[q.arg]
		if c == nil {
			return "no state"
		}
		_, err := o.Candidate(q.arg)
		return errIfNotProbed(err, c.err)
	case qUnit:
		u := o.units[q.arg]
		if u == nil {
			return "no state"
		}
		_, err := o.Unit(q.arg)
		return errIfNotProbed(err, u.Err)
	case qCommand:
		r := o.guards[q.arg]
		if r == nil {
			return "no state"
		}
		return ""
	case qContent:
		c := o.contents[q.arg]
		if c == nil {
			return "no state"
		}
		if len(c.data) > ContentLimit {
			return "content above the limit"
		}
		_, _, err := o.Content(q.arg)
		return errIfNotProbed(err, c.err)
	}
	return "a query type the fuzzer does not know"
}

// errIfNotProbed checks what an accessor returned: an error exactly when
// the state holds one.
func errIfNotProbed(err error, stateErr string) string {
	switch {
	case err != nil && stateErr == "":
		return "the accessor fails: " + err.Error()
	case err == nil && stateErr != "":
		return "the accessor hides the error " + stateErr
	}
	return ""
}
