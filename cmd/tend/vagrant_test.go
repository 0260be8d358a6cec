package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVagrantfile runs `vagrant validate --ignore-provider` on the
// repository's Vagrantfile (issue 9, acceptance 3), in a copy so that
// Vagrant's .vagrant/ and the files the Vagrantfile writes stay out of the
// working tree, and checks that the inventory and variable file it writes
// are the ones committed under testdata/vagrant, which the example
// repository then validates against.
func TestVagrantfile(t *testing.T) {
	if _, err := exec.LookPath("vagrant"); err != nil {
		t.Fatal("vagrant is not installed: apt-get install -y vagrant")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Vagrantfile"), readFile(t, "../../Vagrantfile"))
	home := t.TempDir()
	cmd := exec.Command("vagrant", "validate", "--ignore-provider")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+home, // no user key: validate must pass without one
		"VAGRANT_HOME="+filepath.Join(home, ".vagrant.d"), // no boxes or plugins of the machine
		"VAGRANT_CHECKPOINT_DISABLE=1",                    // no version check over the network
		"VAGRANT_BOX_UPDATE_CHECK_DISABLE=1",
		"TEND_LAB_PUBKEY=",
	)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Vagrantfile validated successfully.") {
		t.Fatalf("vagrant validate --ignore-provider: %v\n%s", err, out)
	}
	for _, name := range []string{"web-1", "web-2", "db-1"} {
		if !strings.Contains(string(out), "==> "+name+":") {
			t.Errorf("vagrant validate does not name the machine %s:\n%s", name, out)
		}
	}

	// The lab's files, as `vagrant up` writes them, are the committed ones.
	for _, f := range []string{"inventory.hcl", "vars/lab.hcl"} {
		got := readFile(t, filepath.Join(dir, "testdata", "vagrant", f))
		if want := readFile(t, filepath.Join("../../testdata/vagrant", f)); got != want {
			t.Errorf("the Vagrantfile writes a testdata/vagrant/%s that differs from the committed one: run `vagrant validate --ignore-provider` at the root and commit it\nwritten:\n%s\ncommitted:\n%s", f, got, want)
		}
	}

	// The committed inventory is usable: the example repository validates
	// against it, with an artifact variable file as app/build.sh writes it.
	art := filepath.Join(t.TempDir(), "artifact.hcl")
	writeFile(t, art, "app_version = \"1.0.0\"\napp_url = \"http://127.0.0.1:8000/devops-map-1.0.0.tar.gz\"\napp_sha256 = \""+strings.Repeat("ab", 32)+"\"\n")
	r := tend(t, "validate", "-i", "../../testdata/vagrant", "--age-identity", exampleIdentity, "--var-file", art, exampleDir)
	if r.code != 0 {
		t.Fatalf("validate the example against the lab's inventory:\n%s", r)
	}
	r = tend(t, "graph", "-i", "../../testdata/vagrant", "--host", "db-1", "--var-file", art, exampleDir)
	if r.code != 0 || !strings.Contains(r.stdout, `"exec[app-database]"`) || strings.Contains(r.stdout, "nginx") {
		t.Errorf("db-1 of the lab does not get the db role only:\n%s", r)
	}
}
