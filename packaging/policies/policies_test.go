package policies

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cardbridge/cardbridge/config"
)

// The contract's ids (docs/admin.md): the Chromium-family extension id,
// which is derived from the public key in web/extension/manifest.json, and
// the Firefox add-on id.
const (
	chromiumID = "eabimfdgphmkgijljjnoadmjicgbnnkk"
	firefoxID  = "cardbridge@cardbridge.org"
	// The Chrome Web Store's update URL; Edge installs Chrome Web Store
	// extensions from it too.
	webStoreUpdateURL = "https://clients2.google.com/service/update2/crx"
)

// The portal placeholder every file allows, for the administrator to
// replace.
var portals = []string{"https://portal.example"}

// The Chromium policies every Chrome or Edge file sets, with their values.
var chromiumPolicies = map[string][]string{
	"ExtensionInstallForcelist":        {chromiumID + ";" + webStoreUpdateURL},
	"LoopbackNetworkAllowedForUrls":    portals,
	"LocalNetworkAccessAllowedForUrls": portals,
}

func TestExtensionIDMatchesManifestKey(t *testing.T) {
	var m struct {
		Key string `json:"key"`
	}
	readJSON(t, filepath.Join("..", "..", "web", "extension", "manifest.json"), &m)
	der, err := base64.StdEncoding.DecodeString(m.Key)
	if err != nil {
		t.Fatal(err)
	}
	// Chromium's extension id: the first 16 bytes of SHA-256 of the
	// public key (DER), each hex digit 0-f written as a-p.
	sum := sha256.Sum256(der)
	id := strings.Map(func(r rune) rune {
		v, _ := strconv.ParseUint(string(r), 16, 8)
		return 'a' + rune(v)
	}, hex.EncodeToString(sum[:16]))
	if id != chromiumID {
		t.Errorf("manifest key gives id %s, want %s", id, chromiumID)
	}
	build, err := os.ReadFile(filepath.Join("..", "..", "web", "extension", "build.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(build, []byte(`"`+firefoxID+`"`)) {
		t.Errorf("web/extension/build.mjs does not set the Firefox id %s", firefoxID)
	}
}

func TestLinuxJSON(t *testing.T) {
	var got map[string][]string
	readJSON(t, filepath.Join("linux", "cardbridge.json"), &got)
	checkChromiumPolicies(t, "linux/cardbridge.json", got)
}

func TestWindowsRegistry(t *testing.T) {
	for file, root := range map[string]string{
		"cardbridge-chrome.reg": `HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Google\Chrome`,
		"cardbridge-edge.reg":   `HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Edge`,
	} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("windows", file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseReg(data, root)
			if err != nil {
				t.Fatal(err)
			}
			checkChromiumPolicies(t, file, got)
		})
	}
}

func TestMacConfigurationProfiles(t *testing.T) {
	uuids := map[string]string{}
	for file, domain := range map[string]string{
		"cardbridge-chrome.mobileconfig": "com.google.Chrome",
		"cardbridge-edge.mobileconfig":   "com.microsoft.Edge",
	} {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("macos", file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			v, err := parsePlist(f)
			if err != nil {
				t.Fatal(err)
			}
			top, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("top level is %T, want a dict", v)
			}
			checkPayload(t, top, "Configuration", uuids)
			content, _ := top["PayloadContent"].([]any)
			if len(content) != 1 {
				t.Fatalf("PayloadContent holds %d payloads, want 1", len(content))
			}
			p, _ := content[0].(map[string]any)
			checkPayload(t, p, domain, uuids)
			got := map[string][]string{}
			for k, v := range p {
				if strings.HasPrefix(k, "Payload") {
					continue
				}
				list, ok := v.([]any)
				if !ok {
					t.Errorf("%s is %T, want an array", k, v)
					continue
				}
				for _, s := range list {
					str, _ := s.(string)
					got[k] = append(got[k], str)
				}
			}
			checkChromiumPolicies(t, file, got)
		})
	}
}

func TestFirefoxPolicies(t *testing.T) {
	var got struct {
		Policies struct {
			ExtensionSettings map[string]struct {
				InstallationMode string `json:"installation_mode"`
				InstallURL       string `json:"install_url"`
			}
			LocalNetworkAccess struct {
				SkipDomains []string
			}
		} `json:"policies"`
	}
	readJSONStrict(t, filepath.Join("firefox", "policies.json"), &got)
	ext, ok := got.Policies.ExtensionSettings[firefoxID]
	if !ok || len(got.Policies.ExtensionSettings) != 1 {
		t.Fatalf("ExtensionSettings %v, want only %s", got.Policies.ExtensionSettings, firefoxID)
	}
	if ext.InstallationMode != "force_installed" {
		t.Errorf("installation_mode %q", ext.InstallationMode)
	}
	if u, err := url.Parse(ext.InstallURL); err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Path, ".xpi") {
		t.Errorf("install_url %q is not an https URL of an .xpi", ext.InstallURL)
	}
	// Firefox's LocalNetworkAccess.SkipDomains takes host names, not URLs.
	var hosts []string
	for _, p := range portals {
		u, _ := url.Parse(p)
		hosts = append(hosts, u.Hostname())
	}
	if !slices.Equal(got.Policies.LocalNetworkAccess.SkipDomains, hosts) {
		t.Errorf("SkipDomains %q, want %q", got.Policies.LocalNetworkAccess.SkipDomains, hosts)
	}
}

// TestCardbridgeSystemConfig: the daemon's machine-wide config loads with
// the daemon's own reader (which refuses unknown keys and bad origins) and
// allows exactly the portals the browser policies allow.
func TestCardbridgeSystemConfig(t *testing.T) {
	sys, err := config.LoadSystem(filepath.Join("cardbridge", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sys.AllowedOrigins, portals) || !sys.OnlyAllowedOrigins {
		t.Errorf("allowedOrigins %q onlyAllowedOrigins %v, want %q and true", sys.AllowedOrigins, sys.OnlyAllowedOrigins, portals)
	}
	if sys.WebSocket != nil {
		t.Errorf("the sample turns the WebSocket %v; it should leave it to docs/admin.md", *sys.WebSocket)
	}
}

// checkChromiumPolicies compares one file's policies with chromiumPolicies,
// and checks that every URL pattern is an https origin.
func checkChromiumPolicies(t *testing.T, file string, got map[string][]string) {
	t.Helper()
	for name, want := range chromiumPolicies {
		if !slices.Equal(got[name], want) {
			t.Errorf("%s: %s = %q, want %q", file, name, got[name], want)
		}
	}
	for name := range got {
		if _, ok := chromiumPolicies[name]; !ok {
			t.Errorf("%s: unexpected policy %s", file, name)
		}
	}
	for _, name := range []string{"LoopbackNetworkAllowedForUrls", "LocalNetworkAccessAllowedForUrls"} {
		for _, p := range got[name] {
			if u, err := url.Parse(p); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
				t.Errorf("%s: %s pattern %q is not an https origin", file, name, p)
			}
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)

// checkPayload checks the keys every configuration profile payload needs,
// and that its UUID is used nowhere else.
func checkPayload(t *testing.T, p map[string]any, payloadType string, seen map[string]string) {
	t.Helper()
	if p["PayloadType"] != payloadType {
		t.Errorf("PayloadType %v, want %s", p["PayloadType"], payloadType)
	}
	if p["PayloadVersion"] != int64(1) {
		t.Errorf("PayloadVersion %v, want 1", p["PayloadVersion"])
	}
	id, _ := p["PayloadIdentifier"].(string)
	if !strings.HasPrefix(id, "org.cardbridge.") {
		t.Errorf("PayloadIdentifier %q", id)
	}
	u, _ := p["PayloadUUID"].(string)
	if !uuidRE.MatchString(u) {
		t.Errorf("PayloadUUID %q", u)
	}
	if other, dup := seen[u]; dup {
		t.Errorf("PayloadUUID %s used by %s too", u, other)
	}
	seen[u] = id
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readJSONStrict is readJSON refusing members v has no field for: a
// misspelt policy name would otherwise pass unnoticed.
func readJSONStrict(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// parseReg reads a regedit export (version 5, ASCII, CRLF lines) whose
// keys are list policies under root: [root\Policy] followed by "N"="value"
// lines, N counting from 1.
func parseReg(data []byte, root string) (map[string][]string, error) {
	for _, b := range data {
		if b >= 0x80 {
			return nil, fmt.Errorf("non-ASCII byte %#x: regedit reads such a file in the ANSI code page", b)
		}
	}
	if bytes.Count(data, []byte("\n")) != bytes.Count(data, []byte("\r\n")) {
		return nil, fmt.Errorf("lines must end in CRLF")
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	first := true
	key := ""
	valueRE := regexp.MustCompile(`^"(\d+)"="((?:[^"\\]|\\.)*)"$`)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case first:
			if line != "Windows Registry Editor Version 5.00" {
				return nil, fmt.Errorf("first line %q", line)
			}
			first = false
		case line == "" || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			k := line[1 : len(line)-1]
			policy, ok := strings.CutPrefix(k, root+`\`)
			if !ok || strings.Contains(policy, `\`) {
				return nil, fmt.Errorf("key %s is not a policy under %s", k, root)
			}
			key = policy
		default:
			m := valueRE.FindStringSubmatch(line)
			if m == nil || key == "" {
				return nil, fmt.Errorf("line %q is not a string value of a list policy", line)
			}
			if n, _ := strconv.Atoi(m[1]); n != len(out[key])+1 {
				return nil, fmt.Errorf("%s: value %s out of order", key, m[1])
			}
			out[key] = append(out[key], m[2])
		}
	}
	return out, sc.Err()
}

// parsePlist decodes an XML property list's dict, array, string, integer
// and true/false elements into map[string]any, []any, string, int64 and
// bool.
func parsePlist(r io.Reader) (any, error) {
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("root element %s, want plist", se.Name.Local)
			}
			v, end, err := plistValue(dec)
			if err != nil {
				return nil, err
			}
			if end {
				return nil, fmt.Errorf("empty plist")
			}
			return v, nil
		}
	}
}

// plistValue reads the next value element; end reports the enclosing
// element's end instead.
func plistValue(dec *xml.Decoder) (v any, end bool, err error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, false, err
		}
		switch tok := tok.(type) {
		case xml.EndElement:
			return nil, true, nil
		case xml.StartElement:
			switch tok.Name.Local {
			case "dict":
				m := map[string]any{}
				for {
					var k string
					t, err := dec.Token()
					for err == nil {
						if _, ok := t.(xml.StartElement); ok {
							break
						}
						if _, ok := t.(xml.EndElement); ok {
							return m, false, nil
						}
						t, err = dec.Token()
					}
					if err != nil {
						return nil, false, err
					}
					se := t.(xml.StartElement)
					if se.Name.Local != "key" {
						return nil, false, fmt.Errorf("dict holds <%s> where a <key> belongs", se.Name.Local)
					}
					if err := dec.DecodeElement(&k, &se); err != nil {
						return nil, false, err
					}
					val, end, err := plistValue(dec)
					if err != nil {
						return nil, false, err
					}
					if end {
						return nil, false, fmt.Errorf("key %s without a value", k)
					}
					if _, dup := m[k]; dup {
						return nil, false, fmt.Errorf("key %s twice", k)
					}
					m[k] = val
				}
			case "array":
				var a []any
				for {
					val, end, err := plistValue(dec)
					if err != nil {
						return nil, false, err
					}
					if end {
						return a, false, nil
					}
					a = append(a, val)
				}
			case "string":
				var s string
				err := dec.DecodeElement(&s, &tok)
				return s, false, err
			case "integer":
				var s string
				if err := dec.DecodeElement(&s, &tok); err != nil {
					return nil, false, err
				}
				n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				return n, false, err
			case "true", "false":
				if err := dec.Skip(); err != nil {
					return nil, false, err
				}
				return tok.Name.Local == "true", false, nil
			default:
				return nil, false, fmt.Errorf("unsupported plist element <%s>", tok.Name.Local)
			}
		}
	}
}
