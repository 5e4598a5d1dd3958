package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/claimable/eventrouter/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect and check configuration",
	}
	validate := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a configuration file and print the effective configuration",
		Long: `Loads FILE with the EVENTROUTER_* environment applied on top, then checks every key.
Problems are listed all at once, each with its key, the bad value and what is allowed,
and the command exits 1. A valid file prints the effective configuration, secrets redacted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, _ := cmd.Flags().GetString("file")
			if file == "" {
				file, _ = cmd.Flags().GetString("config")
			}
			if file == "" {
				return errors.New("config validate: -f FILE is required")
			}
			cfg, err := config.Load(config.Source{File: file})
			var probs *config.Problems
			if errors.As(err, &probs) {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d problem(s)\n", file, len(probs.List))
				for _, p := range probs.List {
					fmt.Fprintln(cmd.ErrOrStderr(), "  "+p.String())
				}
				return fmt.Errorf("%s is not valid", file)
			}
			if err != nil {
				return err
			}
			out, err := cfg.Redact().YAML()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# %s is valid; effective configuration (secrets redacted):\n%s", file, out)
			return nil
		},
	}
	validate.Flags().StringP("file", "f", "", "configuration file to check")
	cmd.AddCommand(validate)
	return cmd
}
