package main

// extraCommands lists the subcommands that live in files of their own
// (run, install, uninstall, status), so that main.go stays the one place
// that dispatches.
func extraCommands() []command {
	return append(runCommands(), installCommands()...)
}
