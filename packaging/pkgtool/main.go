// Command pkgtool does the small jobs scripts/release.sh needs that shell
// and Debian's tools do not:
//
//	pkgtool manifests DIR          write the native-messaging manifests under DIR (the packaging directory)
//	pkgtool uuid5 NAMESPACE NAME   print the name-based (SHA-1, RFC 9562 version 5) UUID of NAME in NAMESPACE
//	pkgtool msi-summary MSI PACKAGECODE EPOCH
//	                               set the MSI summary's package code and its creation and save times
package main

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/packaging"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pkgtool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "manifests":
		return writeManifests(args[1])
	case len(args) == 4 && args[0] == "msi-summary":
		epoch, err := strconv.ParseInt(args[3], 10, 64)
		if err != nil {
			return fmt.Errorf("epoch %q: %w", args[3], err)
		}
		return patchMSISummary(args[1], args[2], time.Unix(epoch, 0))
	case len(args) == 3 && args[0] == "uuid5":
		u, err := uuid5(args[1], args[2])
		if err != nil {
			return err
		}
		fmt.Println(u)
		return nil
	}
	return errors.New("usage: pkgtool manifests DIR | pkgtool uuid5 NAMESPACE NAME | pkgtool msi-summary MSI PACKAGECODE EPOCH")
}

func writeManifests(dir string) error {
	for _, f := range packaging.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Content(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// uuid5 derives a stable UUID from a namespace UUID and a name (RFC 9562
// section 5.5). The MSI's ProductCode must change with every version for
// a major upgrade, and deriving it from the version keeps two builds of
// the same commit identical.
func uuid5(namespace, name string) (string, error) {
	ns, err := hex.DecodeString(strings.ReplaceAll(strings.Trim(namespace, "{}"), "-", ""))
	if err != nil || len(ns) != 16 {
		return "", fmt.Errorf("namespace %q is not a UUID", namespace)
	}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(u)
	return strings.ToUpper(x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]), nil
}
