package routes

import (
	"bufio"
	"fmt"
	"io"
)

// Print renders the plan for humans, one block per step and a summary line:
//
//   - create acct_acme/acme-claims
//     url: https://hooks.acme.example/claims
//     ~ update acct_acme/acme-contacts (sub_…)
//     url: "https://old" → "https://new"
//   - delete acct_acme/old-route (sub_…)
//     Plan: 1 to create, 1 to update, 0 unchanged, 1 to delete.
//
// Unchanged routes are listed on one line each. Secret and header values never appear,
// nor do URLs' query strings or userinfo.
func (p *Plan) Print(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, st := range p.Steps {
		switch st.Action {
		case ActionCreate:
			fmt.Fprintf(bw, "+ create %s/%s\n", st.AccountID, st.Name)
			for _, c := range st.Changes {
				fmt.Fprintf(bw, "    %s: %s\n", c.Field, c.New)
			}
		case ActionUpdate:
			fmt.Fprintf(bw, "~ update %s/%s (%s)\n", st.AccountID, st.Name, st.ID)
			for _, c := range st.Changes {
				fmt.Fprintf(bw, "    %s: %q → %q\n", c.Field, c.Old, c.New)
			}
		case ActionUnchanged:
			fmt.Fprintf(bw, "= unchanged %s/%s (%s)\n", st.AccountID, st.Name, st.ID)
		case ActionDelete:
			fmt.Fprintf(bw, "- delete %s/%s (%s)\n", st.AccountID, st.Name, st.ID)
		}
	}
	fmt.Fprintf(bw, "Plan: %d to create, %d to update, %d unchanged, %d to delete.\n",
		p.Count(ActionCreate), p.Count(ActionUpdate), p.Count(ActionUnchanged), p.Count(ActionDelete))
	return bw.Flush()
}
