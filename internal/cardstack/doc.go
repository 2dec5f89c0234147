// Package cardstack holds tests that run the BELPIC driver over the whole
// real PC/SC stack: beid → pcsc (github.com/ebfe/scard) → pcscd → vpcd →
// the simulated card. It has no code of its own; the tests skip, loudly,
// where pcscd and vpcd are not running (see internal/rig).
package cardstack
