package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/agent"
	"github.com/tendhq/tend/agent/store"
)

// clientFlags are the flags of the commands that talk to a running agent.
type clientFlags struct {
	server string
	token  string
}

// register adds --server and --token.
func (c *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.server, "server", "http://127.0.0.1:7070", "the agent's API address")
	cmd.Flags().StringVar(&c.token, "token", "", "API token (default $TEND_TOKEN)")
}

// call sends one API request with the token and decodes the reply into
// out; an error reply becomes an exit status 1.
func (c *clientFlags) call(cmd *cobra.Command, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		body = bytes.NewReader(b)
	}
	url := strings.TrimRight(c.server, "/") + path
	req, err := http.NewRequestWithContext(cmd.Context(), method, url, body)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("request %s: %w", url, err)}
	}
	tok := c.token
	if tok == "" {
		tok = os.Getenv("TEND_TOKEN")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("%s %s: %w", method, url, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("read reply of %s: %w", url, err)}
	}
	if resp.StatusCode/100 != 2 {
		var e agent.ErrorReply
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return &exitError{code: 1, err: fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("decode reply of %s: %w", url, err)}
		}
	}
	return nil
}

// newStatus is `tend status`: the agent's source, head, policy and a
// table of its hosts.
func newStatus() *cobra.Command {
	c := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running agent's source, policy and hosts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st agent.Status
			if err := c.call(cmd, http.MethodGet, "/api/v1/status", nil, &st); err != nil {
				return err
			}
			printStatus(cmd.OutOrStdout(), &st)
			return nil
		},
	}
	c.register(cmd)
	return cmd
}

// printStatus writes the status as a header and a host table.
func printStatus(w io.Writer, st *agent.Status) {
	src := st.Source
	if st.Ref != "" {
		src += " (" + st.Ref + ")"
	}
	fmt.Fprintf(w, "Source:  %s\n", src)
	if st.Head != nil {
		fmt.Fprintf(w, "Head:    %s %q by %s\n", short(st.Head.String()), firstLine(st.Head.Message), st.Head.Author)
	}
	heal := "off"
	if st.SelfHeal {
		heal = "on"
	}
	fmt.Fprintf(w, "Policy:  %s, self-heal %s", st.Policy, heal)
	if !st.SyncAllowed {
		fmt.Fprint(w, ", outside the sync windows")
	}
	fmt.Fprintln(w)
	if len(st.Paused) > 0 {
		fmt.Fprintf(w, "Paused:  %s\n", strings.Join(st.Paused, ", "))
	}
	if st.SourceError != "" {
		fmt.Fprintf(w, "Error:   %s\n", st.SourceError)
	}
	if st.SpecError != "" {
		fmt.Fprintf(w, "Refused: %s\n", firstLine(st.SpecError))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATUS\tREASON\tAPPLIED\tTARGET\tLAST SYNC")
	for _, h := range st.Hosts {
		reason := h.Reason
		if h.Error != "" {
			reason = firstLine(h.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Status, dash(reason), dash(short(h.Applied)), dash(short(h.Target)), when(h.LastSync))
	}
	_ = tw.Flush()
}

// newSync is `tend sync [--role R] [--host H]`: a manual sync, which
// ignores the sync windows and the policy.
func newSync() *cobra.Command {
	c := &clientFlags{}
	req := agent.SyncRequest{}
	cmd := &cobra.Command{
		Use:   "sync [--role R] [--host H]",
		Short: "Have a running agent apply the head revision now (all hosts, or the selected ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rec store.Sync
			if err := c.call(cmd, http.MethodPost, "/api/v1/sync", req, &rec); err != nil {
				return err
			}
			return printSync(cmd.OutOrStdout(), &rec)
		},
	}
	c.register(cmd)
	cmd.Flags().StringSliceVar(&req.Roles, "role", nil, "only the hosts of these roles (repeatable)")
	cmd.Flags().StringSliceVar(&req.Hosts, "host", nil, "only these hosts (repeatable)")
	return cmd
}

// printSync prints a sync's outcome; a failed sync is exit status 1.
func printSync(w io.Writer, s *store.Sync) error {
	fmt.Fprintf(w, "Sync %d of %s (%s) %s.\n", s.ID, short(s.Revision), s.Trigger, s.Result)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, h := range s.Hosts {
		changed := 0
		for _, r := range h.Resources {
			if r.Action != "no-op" {
				changed++
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d changed\t%s\n", h.Name, h.Result, changed, firstLine(h.Error))
	}
	_ = tw.Flush()
	if s.Result != store.ResultSucceeded {
		return &exitError{code: 1, err: fmt.Errorf("sync %d %s: %s", s.ID, s.Result, s.Reason)}
	}
	return nil
}

// newHistory is `tend history [--limit N]`.
func newHistory() *cobra.Command {
	c := &clientFlags{}
	var limit int
	cmd := &cobra.Command{
		Use:   "history [--limit N]",
		Short: "List a running agent's syncs and drift events, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var h agent.HistoryReply
			if err := c.call(cmd, http.MethodGet, "/api/v1/history?limit="+strconv.Itoa(limit), nil, &h); err != nil {
				return err
			}
			printHistory(cmd.OutOrStdout(), &h)
			return nil
		},
	}
	c.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many syncs and drift events")
	return cmd
}

// printHistory writes the syncs, then the drift events, as tables.
func printHistory(w io.Writer, h *agent.HistoryReply) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tTRIGGER\tBY\tREVISION\tRESULT\tHOSTS\tAUTHOR\tMESSAGE")
	for _, s := range h.Syncs {
		var hosts []string
		for _, x := range s.Hosts {
			hosts = append(hosts, x.Name)
		}
		result := string(s.Result)
		if s.Reason != "" {
			result += ": " + firstLine(s.Reason)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, when(s.Started), s.Trigger, dash(s.By), short(s.Revision),
			result, dash(strings.Join(hosts, ",")), dash(s.Author), firstLine(s.Message))
	}
	_ = tw.Flush()
	if len(h.Drifts) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DRIFT\tTIME\tHOST\tREVISION\tCORRECTED\tRESOURCES")
	for _, d := range h.Drifts {
		var res []string
		for _, r := range d.Resources {
			res = append(res, r.Address+" ("+r.Summary+")")
		}
		corrected := "no"
		if d.Corrected {
			corrected = fmt.Sprintf("yes (sync %d)", d.SyncID)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", d.ID, when(d.Time), d.Host, short(d.Revision), corrected, strings.Join(res, "; "))
	}
	_ = tw.Flush()
}

// newRollback is `tend rollback ID`: the revision of history entry ID is
// applied to that entry's hosts, and their roles' auto-sync is paused.
func newRollback() *cobra.Command {
	c := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "rollback ID",
		Short: "Apply the revision of history entry ID to its hosts again, and pause their roles' auto-sync",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || id == 0 {
				return &exitError{code: 1, err: fmt.Errorf("rollback: %q is not a history ID", args[0])}
			}
			var rec store.Sync
			if err := c.call(cmd, http.MethodPost, "/api/v1/rollback", agent.RollbackRequest{ID: id}, &rec); err != nil {
				return err
			}
			err = printSync(cmd.OutOrStdout(), &rec)
			if err == nil && len(rec.Roles) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "Auto-sync paused for %s; resume with tend agent resume ROLE.\n", strings.Join(rec.Roles, ", "))
			}
			return err
		},
	}
	c.register(cmd)
	return cmd
}

// newPauseResume is `tend agent pause|resume [ROLE]`.
func newPauseResume(_ *globalFlags, op string) *cobra.Command {
	c := &clientFlags{}
	cmd := &cobra.Command{
		Use:   op + " [ROLE]",
		Short: strings.ToUpper(op[:1]) + op[1:] + " the auto-sync of a role (of every host without ROLE) on a running agent",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := agent.PauseRequest{}
			if len(args) == 1 {
				req.Role = args[0]
			}
			var st agent.Status
			if err := c.call(cmd, http.MethodPost, "/api/v1/"+op, req, &st); err != nil {
				return err
			}
			paused := "none"
			if len(st.Paused) > 0 {
				paused = strings.Join(st.Paused, ", ")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Paused roles: %s\n", paused)
			return nil
		},
	}
	c.register(cmd)
	return cmd
}

// short abbreviates main@sha1:<40 hex> to main@sha1:<12 hex>.
func short(rev string) string {
	if i := strings.Index(rev, "@sha1:"); i >= 0 && len(rev) > i+6+12 {
		return rev[:i+6+12]
	}
	return rev
}

// firstLine returns the first line of s, for table cells.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// dash stands for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// when formats a time for tables in the local zone; "-" when unset.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
