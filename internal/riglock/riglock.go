// Package riglock is the machine-wide lock on the PC/SC test rig's virtual
// reader. There is one virtual slot and `go test ./...` runs packages in
// parallel, so every program that plugs a simulated card into it — the rig
// tests and the bench command — takes this lock first.
package riglock

// Path is the lock file. The kernel drops the lock when its holder dies, so
// a crashed run cannot wedge the rig.
const Path = "/tmp/cardbridge-rig.lock"
