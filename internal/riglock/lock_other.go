//go:build !unix

package riglock

import "errors"

// Acquire is unsupported off Unix: the rig (pcscd + vpcd) is Linux-only.
func Acquire(func()) (func(), error) {
	return nil, errors.New("riglock: the PC/SC rig needs a Unix system")
}
