package webeid_test

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/cardbridge/cardbridge/webeid"
)

// A portal's login handler: the nonce was issued with NewNonce to the
// browser's session and kept in it; the page posts the token the daemon
// returned.
func ExampleValidator_Validate() {
	roots := x509.NewCertPool() // add the trusted root CA certificates here
	v, err := webeid.NewValidator(webeid.Config{Origin: "https://portal.example", Roots: roots})
	if err != nil {
		panic(err)
	}
	// The portal's session lookup: its own session id (from an HttpOnly
	// cookie) and the nonce it issued to that session, removed from the
	// session as it is read.
	takeSessionNonce := func(r *http.Request) (sessionID, nonce string) { return "", "" }

	http.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		var tok webeid.AuthToken
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, webeid.MaxTokenSize)).Decode(&tok); err != nil {
			http.Error(w, "bad token", http.StatusBadRequest)
			return
		}
		session, nonce := takeSessionNonce(r)
		auth, err := v.Validate(r.Context(), &tok, session, nonce)
		switch {
		case errors.Is(err, webeid.ErrRevocationUnavailable):
			http.Error(w, "cannot check the card now, try again later", http.StatusServiceUnavailable)
			return
		case err != nil:
			http.Error(w, "authentication failed", http.StatusUnauthorized)
			return
		}
		given, surname, _ := webeid.SubjectIdentity(auth.Certificate)
		fmt.Fprintf(w, "Welcome, %s %s", given, surname)
	})
}

// Checking a signature returned by the daemon's sign method over a digest
// the portal computed: the signature, then the signing certificate's
// chain, policy and revocation status.
func ExampleValidator_VerifyDocumentSignature() {
	var v *webeid.Validator    // as configured for login
	var r *http.Request        // the request that posted the signature
	var digest []byte          // SHA-384 of the canonical document
	var certB64, sigB64 string // from the sign result
	check := func() error {
		der, err := base64.StdEncoding.DecodeString(certB64)
		if err != nil {
			return err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		sig, err := base64.StdEncoding.DecodeString(sigB64)
		if err != nil {
			return err
		}
		return v.VerifyDocumentSignature(r.Context(), cert, crypto.SHA384, digest, sig)
	}
	_ = check
}
