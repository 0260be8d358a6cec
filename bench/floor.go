package main

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// floorMain is the "floor" subcommand, the physical floor of a run: it
// opens one SSH connection to each given port of 127.0.0.1, all at once,
// runs `true` in one session on each, and exits non-zero if any failed.
// It is a separate process so that it is measured like the tools are.
// Arguments: KEY_FILE KNOWN_HOSTS USER PORT...
func floorMain(args []string) int {
	if len(args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: tendbench floor KEY_FILE KNOWN_HOSTS USER PORT...")
		return 2
	}
	keyFile, known, user, ports := args[0], args[1], args[2], args[3:]
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "read key %s: %v\n", keyFile, err)
		return 1
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		fmt.Fprintf(os.Stderr, "parse key %s: %v\n", keyFile, err)
		return 1
	}
	hk, err := knownhosts.New(known)
	if err != nil {
		fmt.Fprintf(os.Stderr, "read known_hosts %s: %v\n", known, err)
		return 1
	}
	cfg := &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   hk,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           10 * time.Second,
	}
	errs := make([]error, len(ports))
	var wg sync.WaitGroup
	for i, p := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runTrue(net.JoinHostPort("127.0.0.1", p), cfg)
		}()
	}
	wg.Wait()
	code := 0
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	return code
}

// runTrue connects to addr and runs true in one session.
func runTrue(addr string, cfg *ssh.ClientConfig) error {
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return fmt.Errorf("open session on %s: %w", addr, err)
	}
	defer s.Close()
	if err := s.Run("true"); err != nil {
		return fmt.Errorf("run true on %s: %w", addr, err)
	}
	return nil
}
