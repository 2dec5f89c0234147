// Package beid drives the BELPIC applet of the Belgian electronic identity
// card over any apdu.Transmitter: a PC/SC card handle, a virtual reader or
// the in-process simulator in package sim.
//
// It reads the public files (identity, address, photo, certificates) in the
// fewest READ BINARY commands the T=0 protocol allows, parses and encodes
// the identity and address files, checks the National Register signatures
// over them, verifies the PIN (from the keyboard or a pinpad reader) and
// signs digests with the authentication or non-repudiation key: RSA
// PKCS #1 v1.5 on applet 1.7 cards and ECDSA P-384 on applet 1.8 cards.
//
// Errors are sentinel values and typed errors to be matched with errors.Is
// and errors.As. Card status words that have no meaning of their own to this
// package come through as *apdu.StatusError. No error carries a PIN or a
// national register number.
package beid
