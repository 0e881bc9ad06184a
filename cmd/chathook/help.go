package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/chathook/chathook"
)

// cmdHelp is what -h says about one command: a line of what it does, its
// usage line and an example. Every command of run has one.
type cmdHelp struct {
	name, summary, usage, example string
}

// commands are in the order the top-level help lists them.
var commands = []cmdHelp{
	{"serve", "run the service: HTTP API, web UI, dispatcher, bundler and notifier",
		"chathook serve [flags]",
		"chathook serve --addr 127.0.0.1:8080 --db ./chathook.db"},
	{"workspace create", "create a workspace and print its id, API token and webhook secret as one JSON object",
		"chathook workspace create --name N --owner-email E [--owner-name N] [--owner-password P] [--db URL]",
		"CHATHOOK_OWNER_PASSWORD='a long password' chathook workspace create --name Acme --owner-email owner@acme.example"},
	{"workspace list", "print every workspace, one JSON object a line",
		"chathook workspace list [--db URL]",
		"chathook workspace list --db ./chathook.db"},
	{"token create", "create a named API token and print it, once (only its hash is kept)",
		"chathook token create --workspace ID --name N [--db URL]",
		"chathook token create --workspace 0193a1c2-… --name CI"},
	{"token list", "print a workspace's API tokens, one JSON object a line (never the token itself)",
		"chathook token list --workspace ID [--db URL]",
		"chathook token list --workspace 0193a1c2-…"},
	{"token revoke", "revoke an API token: every instance refuses it from then on",
		"chathook token revoke --workspace ID --token-id T [--db URL]",
		"chathook token revoke --workspace 0193a1c2-… --token-id 3"},
	{"user add", "let a teammate (or the owner) sign in to a workspace's web UI",
		"chathook user add --workspace ID --email E [--name N] --password P [--db URL]",
		"CHATHOOK_PASSWORD='a long password' chathook user add --workspace 0193a1c2-… --email ana@acme.example --name Ana"},
	{"user password", "set a user's password and sign out every session of theirs",
		"chathook user password --email E --password P [--db URL]",
		"CHATHOOK_PASSWORD='a new long password' chathook user password --email ana@acme.example"},
	{"account connect", "link a WhatsApp account by QR code (or pairing code); exits 0 when paired",
		"chathook account connect --workspace ID [--phone +N] [--email E] [--db URL]",
		"chathook account connect --workspace 0193a1c2-… --phone +972500000000"},
	{"account list", "print a workspace's connected accounts, one JSON object a line",
		"chathook account list --workspace ID [--base-url URL] [--db URL]",
		"chathook account list --workspace 0193a1c2-… --base-url https://chathook.example.com"},
	{"bench", "measure the service end to end and print one JSON report (docs/performance.md)",
		"chathook bench [--workload none|steady|bundles|single] [flags]",
		"chathook bench --workload steady --rate 500 --duration 30s"},
	{"version", "print chathook's version, the one its webhook POSTs send as User-Agent chathook/<version>",
		"chathook version (or chathook --version)",
		"chathook version"},
}

// commandNamed returns the command called name; every name newSettings
// is given is in commands.
func commandNamed(name string) cmdHelp {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	panic("chathook: no help for command " + name)
}

// topUsage is the help of chathook itself: every command, one line each.
func topUsage() string {
	var b strings.Builder
	b.WriteString("chathook links WhatsApp accounts and forwards their messages to webhooks.\n\nusage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %s\n      %s\n", c.usage, c.summary)
	}
	b.WriteString("\nA flag whose help names an environment variable (env CHATHOOK_...) can be set by it; the flag wins.\n" +
		"--db is a SQLite file path (./chathook.db, or sqlite:<path>) or a postgres:// URL.\n" +
		`Run "chathook <command> -h" (or "chathook help <command>") for its flags and an example.` + "\n")
	return b.String()
}

// writeHelp writes c's help: what it does, its usage, an example and
// every flag with its default and environment variable.
func writeHelp(w io.Writer, c cmdHelp, fs *flag.FlagSet) {
	fmt.Fprintf(w, "chathook %s: %s\n\nusage:\n  %s\n\nexample:\n  %s\n", c.name, c.summary, c.usage, c.example)
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nflags:\n")
			first = false
		}
		kind, help := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if kind != "" {
			fmt.Fprintf(w, " %s", kind)
		}
		fmt.Fprintf(w, "\n      %s", help)
		if def := f.DefValue; def != "" && def != "false" {
			// A default may come from the environment: never show its password.
			if u, err := url.Parse(def); err == nil && u.User != nil {
				def = u.Redacted()
			}
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	})
}

// versionLine is what chathook version prints: the same version as the
// User-Agent of its webhook POSTs.
func versionLine() string {
	return "chathook " + chathook.Version
}
