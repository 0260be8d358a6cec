package resources

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/tendhq/tend/inventory"
)

// pkgCase is one package Diff against recorded query output.
type pkgCase struct {
	name    string
	attrs   map[string]cty.Value
	want    *Change // Addr filled in
	wantErr string
}

// runPkgCases builds each case's package (label = its "name" attribute, or
// the case's first word) and diffs it against a reply made of lines.
func runPkgCases(t *testing.T, facts []string, sections func(latest bool) []string, cases []pkgCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			label := strings.Fields(tc.name)[0]
			r := build(t, "package", label, tc.attrs)
			latest := tc.attrs["state"] == str("latest")
			_, o := observeAll(t, []Resource{r}, append(append([]string{}, facts...), sections(latest)...)...)
			c, err := r.Diff(o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Diff = %+v, %v; want an error containing %q", c, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			want := *tc.want
			want.Addr = r.Addr()
			if d := cmp.Diff(&want, c); d != "" {
				t.Errorf("Diff (-want +got):\n%s", d)
			}
		})
	}
}

func TestPackageDiffApt(t *testing.T) {
	facts := []string{"F pkg_manager apt-get"}
	sections := func(latest bool) []string {
		s := recordedSection(t, "pkg", "dpkg-query", "dpkg-query.txt")
		if latest {
			s = append(s, recordedSection(t, "cand", "apt-cache", "apt-cache-policy.txt")...)
		}
		return s
	}
	runPkgCases(t, facts, sections, []pkgCase{
		{name: "bash installed", attrs: attrs(), want: &Change{}},
		{name: "bash pinned to the installed version", attrs: attrs("version", "5.2.15-2+b13"), want: &Change{}},
		{name: "bash pinned elsewhere", attrs: attrs("version", "5.2.15-2"),
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "version", Before: "5.2.15-2+b13", After: "5.2.15-2"}}}},
		{name: "bash absent", attrs: attrs("state", "absent"),
			want: &Change{Action: Delete, Attrs: []AttrChange{{Name: "version", Before: "5.2.15-2+b13"}}}},
		{name: "bash latest and up to date", attrs: attrs("state", "latest"), want: &Change{}},
		{name: "hello to install", attrs: attrs(),
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "name", After: "hello"}}}},
		{name: "hello latest shows the candidate", attrs: attrs("state", "latest"),
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "name", After: "hello"}, {Name: "version", After: "2.10-3"}}}},
		{name: "hello absent", attrs: attrs("state", "absent"), want: &Change{}},
		{name: "tend-no-such-package latest without a candidate", attrs: attrs("state", "latest"),
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "name", After: "tend-no-such-package"}, {Name: "version", After: "latest"}}}},
		{name: "libc6:amd64 with an architecture", attrs: attrs(), want: &Change{}},
		{name: "logrotate whose config files remain is absent", attrs: attrs("state", "absent"), want: &Change{}},
		{name: "logrotate to install again", attrs: attrs(),
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "name", After: "logrotate"}}}},
		{name: "x name attribute", attrs: attrs("name", "bash"), want: &Change{}},
	})
}

func TestPackageDiffErrors(t *testing.T) {
	dpkg := func(bool) []string { return recordedSection(t, "pkg", "dpkg-query", "dpkg-query.txt") }
	runPkgCases(t, []string{"F pkg_manager apt-get"}, func(bool) []string {
		return recordedSection(t, "pkg", "dpkg-query", "dpkg-query-fails.txt")
	}, []pkgCase{
		// A failed query is an error, never "not installed".
		{name: "hello when dpkg-query fails", attrs: attrs(), wantErr: "dpkg-query exited 2: dpkg-query: error: unknown option --nonsense"},
	})
	runPkgCases(t, []string{"F pkg_manager zypper"}, dpkg, []pkgCase{
		{name: "hello on zypper", attrs: attrs(), wantErr: "package needs apt-get, dnf, yum or apk; the host has zypper"},
	})
	runPkgCases(t, nil, func(bool) []string { return []string{"B pkg none 0"} }, []pkgCase{
		{name: "hello without a package manager", attrs: attrs(), wantErr: "the host has none of them"},
	})
	// dpkg-query exits 1 for a name it does not know, but a line it does
	// not explain is an error for the names it did not answer.
	runPkgCases(t, []string{"F pkg_manager apt-get"}, func(bool) []string {
		return []string{"D pkg dpkg-query: error: cannot access archive", "B pkg dpkg-query 1"}
	}, []pkgCase{
		{name: "hello with an unexplained line", attrs: attrs(), wantErr: "cannot access archive"},
	})
	runPkgCases(t, []string{"F pkg_manager apt-get"}, func(latest bool) []string {
		return append(recordedSection(t, "pkg", "dpkg-query", "dpkg-query.txt"),
			"D cand E: Could not open lock file /var/lib/apt/lists/lock", "B cand apt-cache 100")
	}, []pkgCase{
		{name: "hello latest when apt-cache fails", attrs: attrs("state", "latest"), wantErr: "apt-cache exited 100"},
	})
	// Half-installed packages are neither installed nor absent.
	half := func(bool) []string { return []string{"D pkg foo\tamd64\tiF \t1.0-1", "B pkg dpkg-query 0"} }
	runPkgCases(t, []string{"F pkg_manager apt-get"}, half, []pkgCase{
		{name: "foo half-configured", attrs: attrs(),
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "status", Before: "half-configured", After: "installed"}}}},
		{name: "foo half-configured to remove", attrs: attrs("state", "absent"),
			want: &Change{Action: Delete, Attrs: []AttrChange{{Name: "version", Before: "1.0-1"}}}},
	})
}

func TestPackageDiffRPM(t *testing.T) {
	sections := func(latest bool) []string {
		s := recordedSection(t, "pkg", "rpm", "rpm-q.txt")
		if latest {
			s = append(s, recordedSection(t, "cand", "dnf", "dnf-repoquery.txt")...)
		}
		return s
	}
	runPkgCases(t, []string{"F pkg_manager dnf"}, sections, []pkgCase{
		{name: "nginx installed", attrs: attrs(), want: &Change{}},
		{name: "nginx pinned without epoch and release", attrs: attrs("version", "1.20.1"), want: &Change{}},
		{name: "nginx pinned with epoch", attrs: attrs("version", "1:1.20.1-14.el9_2.1"), want: &Change{}},
		{name: "nginx pinned elsewhere", attrs: attrs("version", "1.22.1"),
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "version", Before: "1:1.20.1-14.el9_2.1", After: "1.22.1"}}}},
		{name: "nginx latest", attrs: attrs("state", "latest"),
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "version", Before: "1:1.20.1-14.el9_2.1", After: "1:1.22.1-1.el9"}}}},
		{name: "bash latest and up to date (epoch 0 dropped)", attrs: attrs("state", "latest"), want: &Change{}},
		{name: "glibc on two architectures", attrs: attrs("state", "absent"),
			want: &Change{Action: Delete, Attrs: []AttrChange{{Name: "version", Before: "2.34-100.el9"}}}},
		{name: "tend-no-such-package", attrs: attrs(),
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "name", After: "tend-no-such-package"}}}},
	})
	// An rpm line it cannot explain makes the unanswered names errors.
	runPkgCases(t, []string{"F pkg_manager dnf"}, func(bool) []string {
		return []string{"D pkg error: rpmdb: damaged header #312 retrieved -- skipping.", "B pkg rpm 1"}
	}, []pkgCase{{name: "nginx with a damaged rpmdb", attrs: attrs(), wantErr: "damaged header"}})
}

func TestPackageDiffApk(t *testing.T) {
	sections := func(latest bool) []string {
		s := recordedSection(t, "pkg", "apk", "apk-version.txt")
		if latest {
			s = append(s, "B cand apk 0")
		}
		return s
	}
	runPkgCases(t, []string{"F pkg_manager apk"}, sections, []pkgCase{
		{name: "musl installed", attrs: attrs(), want: &Change{}},
		{name: "musl latest", attrs: attrs("state", "latest"), want: &Change{}},
		{name: "busybox latest", attrs: attrs("state", "latest"),
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "version", Before: "1.36.1-r5", After: "1.36.1-r7"}}}},
		{name: "nginx pinned", attrs: attrs("version", "1.24.0-r6"), want: &Change{}},
		{name: "py3-some-really-long-package-name latest (operator glued on)", attrs: attrs("state", "latest"),
			want: &Change{Action: Update, Attrs: []AttrChange{{Name: "version", Before: "68.0.0-r0", After: "68.0.1-r0"}}}},
		{name: "curl not installed", attrs: attrs(),
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "name", After: "curl"}}}},
		{name: "curl latest", attrs: attrs("state", "latest"),
			want: &Change{Action: Create, Attrs: []AttrChange{{Name: "name", After: "curl"}, {Name: "version", After: "latest"}}}},
	})
	runPkgCases(t, []string{"F pkg_manager apk"}, func(bool) []string {
		return []string{"D pkg ERROR: Unable to lock database: Resource temporarily unavailable", "B pkg apk 99"}
	}, []pkgCase{{name: "curl with a locked database", attrs: attrs(), wantErr: "Unable to lock database"}})
}

// TestPackageProbeQueries checks what a package asks the probe: one query
// per name, a candidate only for latest, and no duplicates.
func TestPackageProbeQueries(t *testing.T) {
	p := NewProbe()
	for _, r := range []Resource{
		build(t, "package", "a", attrs()),
		build(t, "package", "b", attrs("state", "latest")),
		build(t, "package", "a2", attrs("name", "a")),
	} {
		r.Observe(p)
	}
	var got []string
	for _, q := range p.queries {
		got = append(got, string(q.typ)+" "+q.arg)
	}
	if d := cmp.Diff([]string{"P a", "P b", "C b"}, got); d != "" {
		t.Errorf("queries (-want +got):\n%s", d)
	}
}

// TestPackageApplyBatch applies several package changes per backend and
// checks the commands: one refresh when the cache is old, one install for
// all, one remove for all, argv only.
func TestPackageApplyBatch(t *testing.T) {
	mk := func(label string, kv ...string) *Package { return build(t, "package", label, attrs(kv...)).(*Package) }
	members := []*Package{
		mk("nginx", "version", "1.22.1-9"),
		mk("hello"),
		mk("sl", "state", "latest", "cache_valid_time", "10m"),
		mk("old", "state", "absent"),
		mk("older", "state", "absent", "lock_timeout", "300s"),
		mk("same"),
	}
	changes := []*Change{{Action: Create}, {Action: Create}, {Action: Update}, {Action: Delete}, {Action: Delete}, {}}
	for _, tc := range []struct {
		pm       string
		age      int64
		cands    []string
		want     []string
		wantEnvs bool
	}{
		{pm: "apt-get", age: 3600, want: []string{
			"sh -c " + aptUpdateScript + " sh 300",
			"apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --allow-downgrades install nginx=1.22.1-9 hello sl",
			"apt-get -q -y -o DPkg::Lock::Timeout=300 remove old older",
		}, wantEnvs: true},
		// A cache younger than the smallest cache_valid_time (10m) is kept.
		{pm: "apt-get", age: 300, want: []string{
			"apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --allow-downgrades install nginx=1.22.1-9 hello sl",
			"apt-get -q -y -o DPkg::Lock::Timeout=300 remove old older",
		}, wantEnvs: true},
		{pm: "apt-get", age: -1, want: []string{
			"sh -c " + aptUpdateScript + " sh 300",
			"apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --allow-downgrades install nginx=1.22.1-9 hello sl",
			"apt-get -q -y -o DPkg::Lock::Timeout=300 remove old older",
		}, wantEnvs: true},
		{pm: "dnf", cands: []string{"D cand sl 5.0-1.fc39 ", "B cand dnf 0"}, want: []string{
			"dnf -y install nginx-1.22.1-9 hello sl-5.0-1.fc39",
			"dnf -y remove old older",
		}},
		{pm: "apk", cands: []string{"B cand apk 0"}, want: []string{
			"apk add --update-cache --upgrade nginx=1.22.1-9 hello sl",
			"apk del old older",
		}},
	} {
		t.Run(tc.pm, func(t *testing.T) {
			rs := make([]Resource, len(members))
			brs := make([]BatchResource, len(members))
			for i, m := range members {
				rs[i], brs[i] = m, m
			}
			lines := []string{"F pkg_manager " + tc.pm, "F apt_cache_age " + strconv.FormatInt(tc.age, 10), "B pkg none 0"}
			if tc.cands == nil {
				tc.cands = []string{"B cand none 0"}
			}
			_, o := observeAll(t, rs, append(lines, tc.cands...)...)
			o.Facts.AptCacheAge = tc.age
			ft := &fakeTransport{}
			once := newOnceSet()
			target := &Target{Host: &inventory.Host{Name: "web1"}, Transport: ft, Observed: o, Once: once.Once}
			errs, err := members[0].ApplyBatch(context.Background(), target, brs, changes)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range errs {
				if e != nil {
					t.Errorf("member %d: %v", i, e)
				}
			}
			if d := cmp.Diff(tc.want, ft.argvs()); d != "" {
				t.Errorf("commands (-want +got):\n%s", d)
			}
			for _, c := range ft.cmds {
				hasEnv := len(c.Env) > 0 && c.Env[0] == "DEBIAN_FRONTEND=noninteractive"
				if hasEnv != tc.wantEnvs {
					t.Errorf("%v: env %v", c.Args, c.Env)
				}
			}
			// A second batch on the same host in the same run does not
			// refresh again.
			ft.cmds = nil
			if _, err := members[0].ApplyBatch(context.Background(), target, brs[1:2], changes[1:2]); err != nil {
				t.Fatal(err)
			}
			if len(ft.cmds) != 1 {
				t.Errorf("second batch ran %v", ft.argvs())
			}
		})
	}
}

// TestPackageApplyBatchFailure fails the install: its members get the
// error with apt's message, the removals still succeed.
func TestPackageApplyBatchFailure(t *testing.T) {
	a := build(t, "package", "tend-no-such-package", attrs()).(*Package)
	b := build(t, "package", "old", attrs("state", "absent")).(*Package)
	_, o := observeAll(t, []Resource{a, b}, "F pkg_manager apt-get", "F apt_cache_age 5", "B pkg none 0")
	ft := &fakeTransport{results: []*inventory.Result{{ExitCode: 100, Stderr: []byte("Reading package lists...\nE: Unable to locate package tend-no-such-package\n")}}}
	target := &Target{Host: &inventory.Host{Name: "web1"}, Transport: ft, Observed: o}
	errs, err := a.ApplyBatch(context.Background(), target, []BatchResource{a, b}, []*Change{{Action: Create}, {Action: Delete}})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "exit status 100: Reading package lists... | E: Unable to locate package tend-no-such-package") {
		t.Errorf("install error = %v", errs[0])
	}
	if errs[1] != nil {
		t.Errorf("remove error = %v", errs[1])
	}
}
