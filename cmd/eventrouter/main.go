// Command eventrouter is the one binary of eventrouter: every role and tool is a
// subcommand (see `eventrouter --help`).
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "eventrouter:", err)
		os.Exit(1)
	}
}
