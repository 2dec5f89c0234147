package cardstack

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardbridge/cardbridge/apdu"
	"github.com/cardbridge/cardbridge/apdu/beid/sim"
	"github.com/cardbridge/cardbridge/internal/rig"
)

// openscModule is Debian's OpenSC PKCS #11 module (package opensc).
const openscModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// requireOpenSC skips the test, loudly, without pkcs11-tool and the module,
// and fails it instead with CARDBRIDGE_RIG=required.
func requireOpenSC(t *testing.T) string {
	t.Helper()
	tool, err := exec.LookPath("pkcs11-tool")
	if err == nil {
		_, err = os.Stat(openscModule)
	}
	if err != nil {
		msg := fmt.Sprintf("OPENSC TEST SKIPPED: pkcs11-tool or %s missing (apt-get install opensc): %v", openscModule, err)
		if os.Getenv(rig.EnvRig) == "required" {
			t.Fatal(msg)
		}
		fmt.Fprintf(os.Stderr, "\n*** %s: %s ***\n\n", t.Name(), msg)
		t.Skip(msg)
	}
	return tool
}

// pkcs11Tool runs pkcs11-tool on the OpenSC module and returns its output.
func pkcs11Tool(t *testing.T, tool string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append([]string{"--module", openscModule}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user OpenSC cache or config
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// psoCount counts the PERFORM SECURITY OPERATION commands the card got.
func psoCount(card *sim.Card) int {
	n := 0
	for _, e := range card.Log() {
		if e.Command.INS == apdu.InsPSO {
			n++
		}
	}
	return n
}

// TestOpenSC has an independent BELPIC client, OpenSC's PKCS #11 module,
// read the simulated card through pcscd: it must list both private keys
// with the access flags of a real card and the signature key's user
// consent, and sign with the keys. Debian 12's OpenSC 0.23 signs with the
// authentication key of the RSA cards; its card-belpic.c refuses any
// non-repudiation signature itself ("No GUI for NonRep key present") and
// has no ECDSA for BELPIC, so those attempts must fail in OpenSC, before
// the card is asked to sign. A newer OpenSC that signs must produce a
// signature that verifies.
func TestOpenSC(t *testing.T) {
	tool := requireOpenSC(t)
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			card, _, _ := insert(t, p.profile)

			out, err := pkcs11Tool(t, tool, "--list-objects", "--type", "privkey", "--login", "--pin", testPIN)
			if err != nil {
				t.Fatalf("listing the private keys: %v\n%s", err, out)
			}
			auth, sign, ok := strings.Cut(out, "label:      Signature")
			if !ok || !strings.Contains(auth, "label:      Authentication") {
				t.Fatalf("both private keys not listed:\n%s", out)
			}
			const real = "sensitive, always sensitive, never extractable, local"
			if !strings.Contains(auth, "Access:     "+real+"\n") {
				t.Errorf("authentication key access flags, want %q (and no always authenticate):\n%s", real, auth)
			}
			if !strings.Contains(sign, "Access:     always authenticate, "+real) {
				t.Errorf("signature key access flags, want user consent (always authenticate) and %q:\n%s", real, sign)
			}
			if !strings.Contains(sign, "non-repudiation") {
				t.Errorf("signature key usage:\n%s", sign)
			}

			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			if err := os.WriteFile(data, []byte("cardbridge and OpenSC"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, key := range []struct{ id, name string }{
				{"02", "authentication"},
				{"03", "non-repudiation"},
			} {
				sigFile := filepath.Join(dir, "sig"+key.id)
				before := psoCount(card)
				mech := "SHA256-RSA-PKCS"
				if p.profile == sim.ProfileECC {
					mech = "ECDSA-SHA384"
				}
				out, err := pkcs11Tool(t, tool, "--sign", "--login", "--pin", testPIN, "--id", key.id,
					"--mechanism", mech, "--input-file", data, "--output-file", sigFile)
				if err != nil {
					// OpenSC 0.23's own refusals, before any PSO.
					refused := p.profile == sim.ProfileECC && strings.Contains(out, "CKR_MECHANISM_INVALID") ||
						key.id == "03" && strings.Contains(out, "CKR_FUNCTION_NOT_SUPPORTED")
					if !refused {
						t.Errorf("%s signature: %v\n%s", key.name, err, out)
					} else {
						t.Logf("OpenSC refuses the %s signature on its own (%s): a limit of its BELPIC driver", key.name, strings.TrimSpace(out))
					}
					if n := psoCount(card) - before; n != 0 {
						t.Errorf("%s: the card got %d signature commands from a refused attempt", key.name, n)
					}
					continue
				}
				if p.profile == sim.ProfileECC {
					t.Logf("OpenSC made an ECDSA %s signature", key.name) // not in 0.23
					continue
				}
				sig, err := os.ReadFile(sigFile)
				if err != nil {
					t.Fatal(err)
				}
				cert := card.AuthCert()
				if key.id == "03" {
					cert = card.SignCert()
				}
				digest := sha256.Sum256([]byte("cardbridge and OpenSC"))
				if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
					t.Errorf("%s signature by OpenSC does not verify: %v", key.name, err)
				}
			}
			if card.TriesLeft() != 3 {
				t.Errorf("PIN tries left %d after OpenSC, want 3", card.TriesLeft())
			}
		})
	}
}
