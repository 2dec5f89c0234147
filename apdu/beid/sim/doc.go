// Package sim is a software Belgian eID card: the BELPIC applet as a Go
// value that answers command APDUs byte for byte the way a real card does,
// so that the driver, the bridge and the whole PC/SC path can be tested
// without hardware. It implements apdu.Transmitter in-process and the
// vpcd.Card interface for pcscd's virtual reader.
//
// The behaviour follows the project's card facts (shared/belpic-facts.md,
// cited below as "facts §n"), which collect the applet reference manuals and
// three independent client implementations.
//
// # Profiles (facts §1)
//
// ProfileRSA is an applet 1.7 card: ATR 3B 98 13 40 0A A5 03 01 01 01 AD 13
// 11, RSA-2048 keys, GET CARD DATA byte 21 = 0x17. ProfileECC is an applet
// 1.8 card: ATR 3B 7F 96 00 00 80 31 80 65 B0 85 04 01 20 12 0F FF 82 90
// 00, P-384 keys, byte 21 = 0x18, a basic key (81) and its public key file
// 4040. ProfileRSAECRRN ("rsa-ecrrn") is the 1.7 card as issued since about
// 2022: the rsa profile's ATR, applet byte and RSA-2048 card keys, with an
// ECDSA P-384 National Register key and a SHA-256 photo hash.
//
// # Transport (facts §1, §3)
//
// The card speaks T=0. A case-4 command sent without Le (PSO, INTERNAL
// AUTHENTICATE) answers 61xx and leaves its data for GET RESPONSE `00 C0 00
// 00 xx`; 61 00 means 256 bytes or more. A GET RESPONSE for less than what
// waits answers 61xx for the rest; one for more answers 6Cxx and keeps the
// data. Any other command drops data still waiting. With Le present the
// data comes back at once. A command without Le where one is expected
// counts as Le=256, as T=0 sends P3=00. Extended lengths and malformed
// APDUs get 6700, a class other than 00/80 (or the wrong one of the two for
// the instruction) 6E00, an unknown instruction 6D00.
//
// # Files (facts §2, §3, §4, §8)
//
// MF 3F00 holds EF(DIR) 2F00, DF(BELPIC) DF00 and DF(ID) DF01. DF00 has the
// PKCS#15 files 5031 (ODF), 5032 (TokenInfo, with the card serial), 5034
// (AODF), 5035 (PrKDF), 5037 (CDF) and the certificates 5038
// (authentication), 5039 (signature), 503A (citizen CA), 503B (root), 503C
// (RRN), each DER followed by 50 zero bytes on 1.7 and 1100 on 1.8. DF01
// has the identity file 4031 (chip number = card serial, photo hash SHA-1
// on the rsa profile, SHA-256 on rsa-ecrrn, SHA-384 on 1.8, on 1.8 tag 1A
// = SHA-384 of 4040), its RRN
// signature 4032, the address file 4033 padded with zeros to 117 bytes,
// the RRN signature 4034 over the address without padding followed by the
// whole of 4032, the photo 4035 and, on 1.8, the basic public key 4040 (a
// 120-byte SubjectPublicKeyInfo). RRN signatures are RSA PKCS#1 v1.5 over
// SHA-256 on the rsa profile and ECDSA P-384 over SHA-384 on 1.8 and
// rsa-ecrrn, in DER padded with zeros to 0x68 bytes on 1.8 and to 256
// bytes on rsa-ecrrn.
//
// SELECT answers 9000 without data, 6A82 for a file it does not find, 6A86
// for bad P1/P2 and 6A87 or 6700 for a bad Lc; see Card.Transmit and the
// handler comments for every form. READ BINARY answers 6986 without a
// current EF, 6B00 past the end, 6Cxx when Le is more than what is left.
//
// # PIN and access rules (facts §5)
//
// One PIN, reference 01, 3 tries, sent in an 8-byte 2N block; a block that
// is not one counts as a wrong PIN, the manuals listing no other answer.
// The authentication key 82 works after one successful VERIFY in the card
// session. The non-repudiation key 83 needs a successful VERIFY right
// before the PSO, and every signature needs a new one: on applet 1.7 as
// the very command before; on 1.8 one command may stand between, unless it
// is a VERIFY or a PSO. "PIN mixed", on both: the VERIFY spent on a
// non-repudiation signature grants key 82 nothing, so after it key 82
// needs a VERIFY of its own, unless it had access before that VERIFY. A
// wrong VERIFY and LOG OFF end all access; Reset and removal do too, but
// the try counter survives them. A card authentication (INTERNAL
// AUTHENTICATE) clears the security environment.
//
// # Signatures (facts §6)
//
// MSE SET chooses key and algorithm; PSO: COMPUTE DIGITAL SIGNATURE signs
// for real with the keys of the PKI: RSA PKCS#1 v1.5 (algorithm 01 takes a
// DigestInfo, 02/04/08 a bare SHA-1/MD5/SHA-256 hash) or PSS (10, 20) on
// 1.7; ECDSA r||s, 96 bytes, on 1.8. INTERNAL AUTHENTICATE signs a
// challenge with the basic key on 1.8.
//
// # Test hooks
//
// Pull, PullAfter and Reinsert take the card out of the reader, also in
// the middle of an operation; Transmit then fails with ErrPulled, which the
// vpcd connector turns into a dropped connection. Commands, Log and
// TriesLeft let tests observe the card. Options.ForeignBasicKey makes a
// counterfeit: a genuine card's files with another basic key in the chip,
// which only the basic key challenge exposes.
package sim
