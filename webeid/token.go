package webeid

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Token formats. FormatV1 and any "web-eid:1.<minor>" are accepted, as Web
// eID's own validators do: minors only add optional fields. FormatV1_1
// adds the signing certificate (AuthToken.UnverifiedSigningCertificates).
const (
	FormatV1   = "web-eid:1"
	FormatV1_0 = "web-eid:1.0"
	FormatV1_1 = "web-eid:1.1"
)

// MaxTokenSize bounds what ParseAuthToken accepts. A token holds one or two
// certificates (about 2 KB each as base64) and one signature; anything much
// larger is not a token.
const MaxTokenSize = 32 << 10

// maxSigningCertificates bounds the signing certificates a token may carry
// (an eID card has one).
const maxSigningCertificates = 4

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
	// Format is "web-eid:1", "web-eid:1.0", "web-eid:1.1" or a later 1.x.
	Format string `json:"format"`
	// AppVersion is a URL naming the software that made the token. It is
	// informational and not checked.
	AppVersion string `json:"appVersion"`
	// UnverifiedSigningCertificates (format 1.1) hands the card's signing
	// certificate along with the login, so that a portal that will ask
	// for a signature needs no separate round trip to learn it. It must
	// be absent from 1.0 tokens and present in 1.1 ones; Validate checks
	// every entry.
	UnverifiedSigningCertificates []SigningCertificate `json:"unverifiedSigningCertificates,omitempty"`
}

// SigningCertificate is one entry of AuthToken.UnverifiedSigningCertificates.
type SigningCertificate struct {
	// Certificate is the base64 DER of the signing certificate.
	Certificate string `json:"certificate"`
	// SupportedSignatureAlgorithms are the signatures the key can make.
	SupportedSignatureAlgorithms []SignatureAlgorithm `json:"supportedSignatureAlgorithms"`
}

// SignatureAlgorithm names a signature the way Web eID's sign result and
// its 1.1 token do.
type SignatureAlgorithm struct {
	CryptoAlgorithm string `json:"cryptoAlgorithm"` // "ECC" or "RSA"
	HashFunction    string `json:"hashFunction"`    // "SHA-256", "SHA3-384", ...
	PaddingScheme   string `json:"paddingScheme"`   // "NONE" (ECC), "PKCS1.5" or "PSS" (RSA)
}

// Values Web eID defines for SignatureAlgorithm's fields.
var (
	signingHashFunctions = []string{"SHA-224", "SHA-256", "SHA-384", "SHA-512", "SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512"}
	signingPadding       = map[string][]string{"ECC": {"NONE"}, "RSA": {"PKCS1.5", "PSS"}}
)

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

// formatMinor parses f as "web-eid:1" (minor 0) or "web-eid:1.<minor>",
// the minor a decimal number without sign or leading zeros. A plain prefix
// test would also let "web-eid:10" or "web-eid:1.x" through.
func formatMinor(f string) (int, error) {
	if f == FormatV1 {
		return 0, nil
	}
	rest, ok := strings.CutPrefix(f, FormatV1+".")
	if !ok || rest == "" || len(rest) > 4 || (len(rest) > 1 && rest[0] == '0') {
		return 0, fmt.Errorf("%w: %q (want %s or %s.<minor>)", ErrTokenVersion, truncate(f, 40), FormatV1, FormatV1)
	}
	minor := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q (want %s or %s.<minor>)", ErrTokenVersion, truncate(f, 40), FormatV1, FormatV1)
		}
		minor = minor*10 + int(c-'0')
	}
	return minor, nil
}

// truncate keeps an attacker-chosen string short in an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
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
