// Package apdu builds ISO/IEC 7816-4 command APDUs, parses response APDUs,
// turns status words into typed errors and reads BER-TLV and simple-TLV data.
//
// The package does no I/O of its own. Exchange drives the T=0 conventions
// (61xx GET RESPONSE and 6Cxx retry with the exact Le) over any Transmitter,
// so the same code runs against a PC/SC reader, a virtual reader or an
// in-process simulated card.
package apdu
