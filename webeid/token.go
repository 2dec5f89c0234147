package webeid

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// FormatV1 is the token format this package validates. Minor versions
// ("web-eid:1.0", "web-eid:1.1") are accepted too, as Web eID's own
// validators do: they only add optional fields.
const FormatV1 = "web-eid:1"

// MaxTokenSize bounds what ParseAuthToken accepts. A token holds one
// certificate (about 2 KB as base64) and one signature; anything much larger
// is not a token.
const MaxTokenSize = 16 << 10

// AuthToken is a Web eID authentication token as the daemon's authenticate
// method returns it and as the page posts it to the portal.
type AuthToken struct {
	// UnverifiedCertificate is the base64 (standard alphabet) DER of the
	// card's authentication certificate. "Unverified" because nothing about
	// it can be trusted until Validate returns.
	UnverifiedCertificate string `json:"unverifiedCertificate"`
	// Algorithm is the JWS name of the signature algorithm, e.g. "ES384".
	Algorithm string `json:"algorithm"`
	// Signature is the base64 signature over hash(origin) ‖ hash(nonce).
	Signature string `json:"signature"`
	// Format is "web-eid:1" (or a 1.x minor version).
	Format string `json:"format"`
	// AppVersion is a URL naming the software that made the token. It is
	// informational and not checked.
	AppVersion string `json:"appVersion"`
}

// ParseAuthToken decodes a JSON token. Unknown fields are ignored (later 1.x
// formats add some); a body larger than MaxTokenSize, invalid JSON or a
// JSON value that is not an object gives ErrFormat.
func ParseAuthToken(data []byte) (*AuthToken, error) {
	if len(data) > MaxTokenSize {
		return nil, errorf(ErrFormat, "token larger than %d bytes", MaxTokenSize)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errorf(ErrFormat, "token is not a JSON object")
	}
	var t AuthToken
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, errorf(ErrFormat, "token JSON: %v", err)
	}
	return &t, nil
}

// keyKind is the public-key family an algorithm needs.
type keyKind int

const (
	kindEC keyKind = iota + 1
	kindRSA
)

// algorithm describes one supported JWS algorithm.
type algorithm struct {
	hash  crypto.Hash
	kind  keyKind
	pss   bool   // RSASSA-PSS rather than PKCS #1 v1.5
	curve string // for ECDSA: the only curve JWS allows with this name
}

// algorithms is the subset of RFC 7518 §3 that eID cards produce and Web
// eID accepts.
var algorithms = map[string]algorithm{
	"ES256": {crypto.SHA256, kindEC, false, "P-256"},
	"ES384": {crypto.SHA384, kindEC, false, "P-384"},
	"ES512": {crypto.SHA512, kindEC, false, "P-521"},
	"RS256": {crypto.SHA256, kindRSA, false, ""},
	"RS384": {crypto.SHA384, kindRSA, false, ""},
	"RS512": {crypto.SHA512, kindRSA, false, ""},
	"PS256": {crypto.SHA256, kindRSA, true, ""},
	"PS384": {crypto.SHA384, kindRSA, true, ""},
	"PS512": {crypto.SHA512, kindRSA, true, ""},
}

// formatSupported reports whether f is "web-eid:1" or "web-eid:1.<minor>".
// A plain prefix test would also let "web-eid:10" through.
func formatSupported(f string) bool {
	return f == FormatV1 || strings.HasPrefix(f, FormatV1+".")
}

// decodeBase64 accepts standard base64 with or without padding. The daemon
// and Web eID send padded standard base64; being lenient about padding
// costs nothing, while URL-safe input is refused so that one value has one
// spelling.
func decodeBase64(field, s string) ([]byte, error) {
	if s == "" {
		return nil, errorf(ErrFormat, "%s is missing", field)
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, errorf(ErrFormat, "%s is not valid base64: %v", field, err)
	}
	return b, nil
}

// SignedValue returns what the card signs for an authentication token:
// hash(origin) ‖ hash(nonce) with the given hash. The card (or rather the
// daemon) then signs this value with the same hash again, as any
// "SHA384withECDSA"-style signature does. Exported for tests and for tools
// that produce tokens.
func SignedValue(h crypto.Hash, origin, nonce string) []byte {
	ho := h.New()
	ho.Write([]byte(origin))
	hn := h.New()
	hn.Write([]byte(nonce))
	return hn.Sum(ho.Sum(nil))
}
