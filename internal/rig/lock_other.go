//go:build !unix

package rig

import (
	"errors"
	"testing"
)

// lock is unsupported off Unix: the rig (pcscd + vpcd) is Linux-only anyway.
func lock(testing.TB) (func(), error) {
	return nil, errors.New("the PC/SC rig needs a Unix system")
}
