package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newExplainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain --subscription ID -f EVENT.json",
		Short: "Say why a subscription did or did not get an event (asks the admin API)",
		Long: `Posts the event (exactly as produced to the ingest topic; "-f -" reads stdin) to the
admin API's POST /v1/subscriptions/{id}/explain and prints every routing rule in the
router's order — account, events, filter clause by clause with the values it saw,
enabled, egress — the rule that decided, and the delivery it made (webhook-id, state,
attempts) from the attempt log. The token comes from --token or EVENTROUTER_API_TOKEN.

  eventrouter explain --subscription sub_123 -f claim-123.json
  kcat -C -t claims.events -o -1 -e | eventrouter explain --subscription sub_123 -f -`,
		Args: cobra.NoArgs,
		RunE: runExplain,
	}
	f := cmd.Flags()
	f.String("subscription", "", "subscription id (required)")
	f.StringP("file", "f", "", "the event as JSON; - for standard input (required)")
	f.String("api", "http://127.0.0.1:8080", "admin API base URL")
	f.String("token", "", "API bearer token (default $EVENTROUTER_API_TOKEN)")
	f.Bool("json", false, "print the API's JSON answer instead of a table")
	return cmd
}

// explainAnswer is the part of the API's answer the table prints.
type explainAnswer struct {
	SubscriptionID string `json:"subscription_id"`
	EventID        string `json:"event_id"`
	Matched        bool   `json:"matched"`
	Decided        string `json:"decided_by"`
	Rules          []struct {
		Rule    string `json:"rule"`
		Passed  bool   `json:"passed"`
		Detail  string `json:"detail"`
		Clauses []struct {
			Clause string `json:"clause"`
			Saw    string `json:"saw"`
			Result bool   `json:"result"`
		} `json:"clauses"`
	} `json:"rules"`
	DeliveryID string `json:"delivery_id"`
	Delivery   *struct {
		State    string `json:"state"`
		Attempts []struct {
			Attempt int       `json:"attempt"`
			At      time.Time `json:"at"`
			Reason  string    `json:"reason"`
			Status  int       `json:"status"`
		} `json:"attempts"`
	} `json:"delivery"`
}

func runExplain(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	id, _ := f.GetString("subscription")
	path, _ := f.GetString("file")
	if id == "" || path == "" {
		return errors.New("explain: --subscription and -f are required")
	}
	var body []byte
	var err error
	if path == "-" {
		body, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4<<20))
	} else {
		body, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("explain: read the event: %w", err)
	}
	token, _ := f.GetString("token")
	if token == "" {
		token = os.Getenv("EVENTROUTER_API_TOKEN")
	}
	base, _ := f.GetString("api")
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost,
		strings.TrimRight(base, "/")+"/v1/subscriptions/"+id+"/explain", bytes.NewReader(bytes.TrimSpace(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("explain: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("explain: the API answered %s: %s", resp.Status, bytes.TrimSpace(out))
	}
	if asJSON, _ := f.GetBool("json"); asJSON {
		_, err := cmd.OutOrStdout().Write(out)
		return err
	}
	var x explainAnswer
	if err := json.Unmarshal(out, &x); err != nil {
		return fmt.Errorf("explain: unexpected answer: %w", err)
	}
	return printExplain(cmd.OutOrStdout(), &x)
}

func printExplain(w io.Writer, x *explainAnswer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	verdict := "ROUTED"
	if !x.Matched {
		verdict = "NOT ROUTED (decided by " + x.Decided + ")"
	}
	fmt.Fprintf(tw, "event %s → subscription %s: %s\n\n", x.EventID, x.SubscriptionID, verdict)
	mark := map[bool]string{true: "pass", false: "FAIL"}
	for _, r := range x.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Rule, mark[r.Passed], r.Detail)
		for _, c := range r.Clauses {
			fmt.Fprintf(tw, "\t\t  %s → %v  (saw %s)\n", c.Clause, c.Result, c.Saw)
		}
	}
	fmt.Fprintf(tw, "\ndelivery\t%s\t", x.DeliveryID)
	if x.Delivery == nil {
		fmt.Fprintf(tw, "not in the attempt log\n")
	} else {
		fmt.Fprintf(tw, "%s, %d attempt(s)\n", x.Delivery.State, len(x.Delivery.Attempts))
		for _, a := range x.Delivery.Attempts {
			fmt.Fprintf(tw, "\t\t  attempt %d at %s: %s %d\n", a.Attempt, a.At.Format(time.RFC3339), a.Reason, a.Status)
		}
	}
	return tw.Flush()
}
