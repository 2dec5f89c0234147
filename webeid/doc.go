// Package webeid validates, on a portal's server, what a Belgian eID card
// produced in the browser through the cardbridge daemon: Web eID
// authentication tokens (format "web-eid:1") and document signatures.
//
// The authentication protocol is the one of the Web eID project. The server
// issues a random challenge nonce (NewNonce), the page asks the daemon to
// authenticate, and the card signs
//
//	hash(origin) ‖ hash(nonce)
//
// with its authentication key, where hash is the one named by the token's
// JWS algorithm (SHA-384 for ES384) and origin is the page's origin as the
// browser sent it to the daemon. Validate checks the token against the
// portal's own origin, the nonce it issued, and the trusted roots; a token
// made for another origin therefore fails its signature check, which is the
// whole point: a phishing site cannot relay a token to the real portal.
//
// Signatures made by the daemon's sign method are checked with
// VerifySignature (raw r‖s for ECDSA, as in JWS and in Web eID's sign
// command; PKCS #1 v1.5 for RSA) and the signing certificate's chain with
// Validator.VerifyChain.
//
// The package does no revocation checking (OCSP or CRL): a portal that needs
// it must add it after Validate returns the certificate.
package webeid
