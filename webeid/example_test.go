package webeid_test

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/cardbridge/cardbridge/webeid"
)

// A portal's login handler: the nonce was issued with NewNonce and kept in
// the user's session; the page posts the token the daemon returned.
func ExampleValidator_Validate() {
	roots := x509.NewCertPool() // add the trusted root CA certificates here
	v, err := webeid.NewValidator(webeid.Config{Origin: "https://portal.example", Roots: roots})
	if err != nil {
		panic(err)
	}
	sessionNonce := func(r *http.Request) string { return "" } // the portal's session lookup

	http.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		var tok webeid.AuthToken
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, webeid.MaxTokenSize)).Decode(&tok); err != nil {
			http.Error(w, "bad token", http.StatusBadRequest)
			return
		}
		cert, err := v.Validate(r.Context(), &tok, sessionNonce(r))
		if err != nil {
			http.Error(w, "authentication failed", http.StatusUnauthorized)
			return
		}
		given, surname, _ := webeid.SubjectIdentity(cert)
		fmt.Fprintf(w, "Welcome, %s %s", given, surname)
	})
}

// Checking a signature returned by the daemon's sign method over a digest
// the portal computed.
func ExampleVerifySignature() {
	var v *webeid.Validator    // as configured for login
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
		if err := v.VerifyChain(cert, webeid.PurposeSigning); err != nil {
			return err
		}
		sig, err := base64.StdEncoding.DecodeString(sigB64)
		if err != nil {
			return err
		}
		return webeid.VerifySignature(cert, crypto.SHA384, digest, sig)
	}
	_ = check
}
