// Package config holds cardbridge's per-user settings and the list of web
// origins the user has allowed to use the ID card.
//
// The settings live in one JSON file, by default
// os.UserConfigDir()/cardbridge/config.json. The file is written atomically
// (temporary file in the same directory, fsync, rename) so that a crash or a
// concurrent reader never sees half a file, and mutations are serialised
// across processes with an advisory lock on a sibling ".lock" file.
//
// A missing file means defaults. A file that cannot be parsed is moved aside
// as config.json.corrupt-<timestamp> and the defaults are used: the caller
// gets an error wrapping ErrCorrupt to log, never an allow-all state.
//
// Store implements the bridge's ConsentStore over that file.
package config
