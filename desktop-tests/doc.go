// Package desktoptests holds the end-to-end desktop test: the bridge
// server, the native prompter, the config consent store and the tray,
// wired as the daemon wires them, driven by a WebSocket client playing the
// portal page and by xdotool playing the user. See e2e_test.go; run it
// through tray/ci.sh.
package desktoptests
