// Package webeid validates, on a portal's server, what a Belgian eID card
// produced in the browser through the cardbridge daemon: Web eID
// authentication tokens (formats "web-eid:1", "web-eid:1.0", "web-eid:1.1"
// and later 1.x) and document signatures.
//
// # Authentication
//
// The authentication protocol is the one of the Web eID project. The server
// issues a random challenge nonce (NewNonce) to the browser's session, the
// page asks the daemon to authenticate, and the card signs
//
//	hash(origin) ‖ hash(nonce)
//
// with its authentication key, where hash is the one named by the token's
// JWS algorithm (SHA-384 for ES384) and origin is the page's origin as the
// browser sent it to the daemon. Validate checks the token against the
// portal's own origin, the nonce it issued to that session, the trusted
// roots, the accepted certificate policies and the certificate's
// revocation status; a token made for another origin fails its signature
// check, which is the whole point: a phishing site cannot relay a token to
// the real portal.
//
// # Nonces belong to sessions
//
// A NONCE MUST BE BOUND TO THE SESSION THAT ASKED FOR IT. NewNonce takes
// the portal's own key for the browser session (its session id, from an
// HttpOnly cookie, never anything the page sends) and Validate accepts the
// nonce only for that same session; the portal also keeps the nonce in the
// session and passes it to Validate itself, rather than taking it from the
// request. The store is bounded per session (DefaultNoncesPerSession) and
// in all (DefaultMaxNonces), and never forgets one session's live nonce to
// make room for another's: nonces go to anyone who asks, so a store that
// evicted the oldest would let a stranger's flood of requests cancel every
// user's login in progress. When full, NewNonce fails with
// ErrNonceStoreFull until nonces expire; rate-limit the nonce endpoint per
// client so that one client cannot fill it. A portal with several servers
// supplies a NonceStore over its shared session storage with the same
// guarantees.
//
// # Revocation
//
// Revocation checking is on by default and fails closed. After every
// offline check passed, the authentication certificate (and any signing
// certificate the token carries, and the certificate given to
// VerifyCertificate or VerifyDocumentSignature) is checked with OCSP (RFC
// 6960) at the responder its Authority Information Access extension names,
// or at a designated responder the portal configures
// (RevocationConfig.Responders). A response is accepted only if it is
// signed by the certificate's issuer, by a responder certificate the
// issuer signed with the OCSP-signing extended key usage, or by the
// designated responder; names this certificate of this issuer (serial and
// issuer hashes); is fresh (thisUpdate not in the future, nextUpdate not
// passed, both within RevocationConfig.ClockSkew, and no older than MaxAge
// without a nextUpdate); and echoes the request's nonce when it carries
// one (required with OCSPResponder.RequireNonce). Each exchange is bounded
// by RevocationConfig.Timeout and by the caller's context. Accepted
// answers are cached, at most CacheSize of them, until their nextUpdate
// and at most CacheTTL. A revoked certificate gives ErrRevoked; no
// acceptable answer (unreachable responder, timeout, forged or stale
// response, "unknown") gives ErrRevocationUnavailable, and the certificate
// is refused. RevocationConfig.Disabled is the explicit opt-out, for tests
// and for portals that check revocation by other means.
//
// # Certificate policies
//
// A leaf must assert one of the accepted policies for its use
// (Config.Policies; by default BelgianEIDPolicies, the citizen and
// foreigner authentication and signature policies of every Belgian eID
// root), so that a certificate that merely chains to a trusted root, such
// as a test card's or one issued for another purpose, is refused
// (ErrPolicy).
//
// # Signing certificate with the login
//
// A web-eid:1.1 token (the daemon's authenticate with
// getSigningCertificate) also carries the card's signing certificate.
// Validate checks it as it checks the authentication certificate, and that
// it names the same holder (Belgian certificates differ only in the role
// in the common name) and the same issuer, and returns it in
// Authentication.SigningCertificates, so that the portal can ask for a
// signature without first asking for the certificate.
//
// # Signatures
//
// Signatures made by the daemon's sign method are checked with
// Validator.VerifyDocumentSignature: chain, key usage and policy of the
// signing certificate, the signature (raw r‖s for ECDSA, as in JWS and in
// Web eID's sign command; PKCS #1 v1.5 for RSA; see VerifySignature), then
// its revocation status.
//
// # Errors
//
// Every error matches exactly one of ErrFormat, ErrAlgorithm,
// ErrCertificate, ErrSignature, ErrNonce and ErrRevocationUnavailable with
// errors.Is, some also a more precise sentinel, and the certificate and
// OCSP errors are a *CertificateError, *RevokedError or *OCSPError for
// errors.As.
package webeid
