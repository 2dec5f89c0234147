package packaging

import (
	"bytes"
	"debug/pe"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const msiName = "cardbridge-windows-x64.msi"

// upgradeCode identifies cardbridge's MSI across all versions; changing
// it would install a new version beside the old one instead of over it.
const upgradeCode = "{0D858B28-04AB-4D30-BF1F-BF9A280E6A21}"

// msiTable reads a table of the built MSI with `msiinfo export`: a line of
// column names, a line of column types, a line naming the table and its
// keys, then one line per row, tab-separated.
func msiTable(t *testing.T, msi, table string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.ReplaceAll(output(t, "msiinfo", "export", msi, table), "\r\n", "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %q", table, lines)
	}
	cols := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[3:] {
		if l == "" {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != len(cols) {
			t.Fatalf("%s: row %q has %d fields, want %d", table, l, len(f), len(cols))
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = f[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func msiProperties(t *testing.T, msi string) map[string]string {
	props := map[string]string{}
	for _, r := range msiTable(t, msi, "Property") {
		props[r["Property"]] = r["Value"]
	}
	return props
}

// msiDirectory resolves a Directory table entry to its path below the
// root folder it hangs from, e.g. LocalAppDataFolder\Programs\cardbridge.
func msiDirectory(t *testing.T, msi, id string) string {
	t.Helper()
	dirs := map[string]map[string]string{}
	for _, r := range msiTable(t, msi, "Directory") {
		dirs[r["Directory"]] = r
	}
	var parts []string
	for d := id; d != ""; {
		r, ok := dirs[d]
		if !ok {
			t.Fatalf("directory %s not in the Directory table", d)
		}
		name := r["DefaultDir"]
		if i := strings.LastIndexByte(name, '|'); i >= 0 {
			name = name[i+1:] // short|long name
		}
		if name == "." || r["Directory_Parent"] == "" || r["Directory_Parent"] == "TARGETDIR" {
			name = d // a standard folder (LocalAppDataFolder, ...) or the root
		}
		if d != "TARGETDIR" {
			parts = append([]string{name}, parts...)
		}
		d = r["Directory_Parent"]
	}
	return strings.Join(parts, `\`)
}

func TestMSIPerUser(t *testing.T) {
	msi := artefact(t, msiName)
	props := msiProperties(t, msi)
	// ALLUSERS unset is a per-user installation; 1 or 2 could make it
	// per-machine (learn.microsoft.com/windows/win32/msi/allusers), and
	// MSIINSTALLPERUSER only matters with ALLUSERS=2.
	for _, p := range []string{"ALLUSERS", "MSIINSTALLPERUSER"} {
		if v, ok := props[p]; ok {
			t.Errorf("Property %s = %q; want it unset (per-user install only)", p, v)
		}
	}
	var refusesPerMachine bool
	for _, r := range msiTable(t, msi, "LaunchCondition") {
		refusesPerMachine = refusesPerMachine || r["Condition"] == "NOT ALLUSERS"
	}
	if !refusesPerMachine {
		t.Error("no launch condition refuses ALLUSERS (msiexec ALLUSERS=1 would install per machine)")
	}
	// Word Count bit 3 (value 8): elevated privileges are not required,
	// so Windows shows no UAC prompt (…/msi/word-count-summary). msiinfo
	// prints the Word Count property as "Source".
	m := regexp.MustCompile(`(?m)^Source: (\d+)`).FindStringSubmatch(output(t, "msiinfo", "suminfo", msi))
	if m == nil {
		t.Fatal("msiinfo suminfo printed no Word Count (Source)")
	}
	if wc, _ := strconv.Atoi(m[1]); wc&8 == 0 {
		t.Errorf("summary Word Count = %d: bit 8 (no elevation) unset, installing would ask for an administrator", wc)
	}
	// The summary carries no build-time randomness or clock
	// (scripts/release.sh sets them): a package code derived from the
	// inputs (a version 5 UUID) and one time, the commit's.
	sum := output(t, "msiinfo", "suminfo", msi)
	if !regexp.MustCompile(`(?m)^Revision number \(UUID\): \{[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$`).MatchString(sum) {
		t.Errorf("package code is not derived from the inputs:\n%s", sum)
	}
	created := regexp.MustCompile(`(?m)^Created: (.*)$`).FindStringSubmatch(sum)
	saved := regexp.MustCompile(`(?m)^Last saved: (.*)$`).FindStringSubmatch(sum)
	if created == nil || saved == nil || created[1] != saved[1] {
		t.Errorf("summary times differ (not set from the commit):\n%s", sum)
	}
}

func TestMSIRegistryOnlyHKCU(t *testing.T) {
	msi := artefact(t, msiName)
	rows := msiTable(t, msi, "Registry")
	files := map[string]string{} // File key -> file name
	for _, f := range msiTable(t, msi, "File") {
		files[f["File"]] = f["FileName"]
	}
	type entry struct{ key, name string }
	got := map[entry]string{}
	for _, r := range rows {
		// Root 1 is HKEY_CURRENT_USER; 2 HKLM, 0 HKCR, 3 HKU, and -1
		// HKCU or HKLM depending on ALLUSERS: all refused
		// (learn.microsoft.com/windows/win32/msi/registry-table).
		if r["Root"] != "1" {
			t.Errorf("registry row %s writes under root %s, not HKCU: %v", r["Registry"], r["Root"], r)
		}
		got[entry{r["Key"], r["Name"]}] = r["Value"]
	}
	const hosts = `NativeMessagingHosts\org.cardbridge.host`
	fileOf := func(v string) string { // "[#file]" -> its file name
		if !strings.HasPrefix(v, "[#") || !strings.HasSuffix(v, "]") {
			return ""
		}
		return files[v[2:len(v)-1]]
	}
	if v, ok := got[entry{`Software\Microsoft\Windows\CurrentVersion\Run`, "cardbridge"}]; !ok {
		t.Error(`no Run value "cardbridge" under HKCU\Software\Microsoft\Windows\CurrentVersion\Run`)
	} else if v != `"[#cardbridge.exe]" run` || fileOf(`[#cardbridge.exe]`) != "cardbridge.exe" {
		t.Errorf("Run value = %q; want the installed cardbridge.exe, quoted, with the argument run", v)
	}
	for key, manifest := range map[string]string{
		`Software\Google\Chrome\` + hosts:  HostName + ".json",
		`Software\Microsoft\Edge\` + hosts: HostName + ".json",
		`Software\Mozilla\` + hosts:        HostName + ".firefox.json",
	} {
		v, ok := got[entry{key, ""}]
		if !ok {
			t.Errorf(`no default value of HKCU\%s`, key)
			continue
		}
		if fileOf(v) != manifest {
			t.Errorf(`HKCU\%s = %q; want the path of the installed %s`, key, v, manifest)
		}
		// "-" with no value: the key itself goes when its component is
		// uninstalled, not only the value.
		if v, ok := got[entry{key, "-"}]; !ok || v != "" {
			t.Errorf(`HKCU\%s is not removed on uninstall (no "-" row)`, key)
		}
	}
	if _, ok := got[entry{`Software\cardbridge`, "-"}]; !ok {
		t.Error(`HKCU\Software\cardbridge is not removed on uninstall`)
	}
}

// msiTablesAllowed are the tables the MSI may fill: what a per-user
// install of files, HKCU values and a shortcut needs. Anything else with
// rows (Environment, IniFile, ServiceInstall, Class/ProgId/TypeLib, which
// register COM under HKCR, MoveFile, DuplicateFile, CreateFolder, ...)
// would be a write this package has no business making.
var msiTablesAllowed = map[string]bool{
	"_SummaryInformation": true, "Property": true, "Directory": true, "Component": true, "Feature": true,
	"FeatureComponents": true, "File": true, "MsiFileHash": true, "Media": true, "Registry": true,
	"RemoveFile": true, "Shortcut": true, "Upgrade": true, "LaunchCondition": true, "CustomAction": true,
	"InstallExecuteSequence": true, "InstallUISequence": true, "AdminExecuteSequence": true,
	"AdminUISequence": true, "AdvtExecuteSequence": true,
}

func TestMSIWritesNothingElse(t *testing.T) {
	msi := artefact(t, msiName)
	for _, table := range strings.Fields(output(t, "msiinfo", "tables", msi)) {
		if table == "_ForceCodepage" || table == "_SummaryInformation" || msiTablesAllowed[table] {
			continue
		}
		if rows := msiTable(t, msi, table); len(rows) > 0 {
			t.Errorf("table %s has rows %v: not part of a per-user install of files, HKCU values and a shortcut", table, rows)
		}
	}
}

func TestMSIFilesPerUser(t *testing.T) {
	msi := artefact(t, msiName)
	comps := map[string]map[string]string{}
	for _, c := range msiTable(t, msi, "Component") {
		comps[c["Component"]] = c
	}
	want := map[string]bool{"cardbridge.exe": false, HostName + ".json": false, HostName + ".firefox.json": false}
	for _, f := range msiTable(t, msi, "File") {
		dir := msiDirectory(t, msi, comps[f["Component_"]]["Directory_"])
		if dir != `LocalAppDataFolder\Programs\cardbridge` {
			t.Errorf("file %s installs into %s, not the per-user %%LocalAppData%%\\Programs\\cardbridge", f["FileName"], dir)
		}
		if _, ok := want[f["FileName"]]; !ok {
			t.Errorf("unexpected file %s", f["FileName"])
		}
		want[f["FileName"]] = true
	}
	for name, found := range want {
		if !found {
			t.Errorf("%s not in the File table", name)
		}
	}
	// Every component lives in the user's profile, and each has an HKCU
	// value as key path: Windows Installer cannot track profile files.
	regs := map[string]string{}
	for _, r := range msiTable(t, msi, "Registry") {
		regs[r["Registry"]] = r["Root"]
	}
	for id, c := range comps {
		dir := msiDirectory(t, msi, c["Directory_"])
		if !strings.HasPrefix(dir, "LocalAppDataFolder") && dir != "ProgramMenuFolder" {
			t.Errorf("component %s installs into %s, outside the user's profile", id, dir)
		}
		if regs[c["KeyPath"]] != "1" {
			t.Errorf("component %s: key path %q is not an HKCU registry value", id, c["KeyPath"])
		}
	}
	// Folders the install creates go away on uninstall (if empty).
	removed := map[string]bool{}
	for _, r := range msiTable(t, msi, "RemoveFile") {
		if r["FileName"] == "" {
			removed[msiDirectory(t, msi, r["DirProperty"])] = r["InstallMode"] == "2" || r["InstallMode"] == "3"
		}
	}
	for _, d := range []string{`LocalAppDataFolder\Programs\cardbridge`, `LocalAppDataFolder\Programs`} {
		if !removed[d] {
			t.Errorf("%s is not removed on uninstall", d)
		}
	}
}

func TestMSIStartMenu(t *testing.T) {
	msi := artefact(t, msiName)
	rows := msiTable(t, msi, "Shortcut")
	if len(rows) != 1 {
		t.Fatalf("Shortcut table = %v; want one Start menu entry", rows)
	}
	s := rows[0]
	if s["Directory_"] != "ProgramMenuFolder" || s["Name"] != "cardbridge" || s["Target"] != "[#cardbridge.exe]" || s["Arguments"] != "run" {
		t.Errorf("shortcut = %v; want cardbridge in the Start menu, running cardbridge.exe run", s)
	}
}

func TestMSIUpgradeInPlace(t *testing.T) {
	msi := artefact(t, msiName)
	props := msiProperties(t, msi)
	if !strings.EqualFold(props["UpgradeCode"], upgradeCode) {
		t.Errorf("UpgradeCode = %s; want the stable %s", props["UpgradeCode"], upgradeCode)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`).MatchString(props["ProductVersion"]) {
		t.Errorf("ProductVersion = %q; want X.Y.Z.N", props["ProductVersion"])
	}
	var older, newer bool
	for _, r := range msiTable(t, msi, "Upgrade") {
		if !strings.EqualFold(r["UpgradeCode"], upgradeCode) {
			t.Errorf("Upgrade row for another product: %v", r)
		}
		attr, _ := strconv.Atoi(r["Attributes"])
		switch r["ActionProperty"] {
		case "CARDBRIDGE_OLDER":
			// Inclusive at both ends (0x100, 0x200): builds between two
			// tags share the first three version fields, the only ones
			// compared, and must replace each other.
			older = attr&0x2 == 0 && attr&0x300 == 0x300 && r["VersionMax"] == props["ProductVersion"]
		case "CARDBRIDGE_NEWER":
			newer = attr&0x2 != 0 // detect only: never remove a newer version
		}
	}
	if !older || !newer {
		t.Errorf("Upgrade table does not replace older versions (inclusive) and refuse newer ones: %v", msiTable(t, msi, "Upgrade"))
	}
	seq := map[string]int{}
	cond := map[string]string{}
	for _, r := range msiTable(t, msi, "InstallExecuteSequence") {
		seq[r["Action"]], _ = strconv.Atoi(r["Sequence"])
		cond[r["Action"]] = r["Condition"]
	}
	// The old version goes before the new files land, after this user's
	// running cardbridge stopped; the new one starts after everything.
	if !(seq["StopCardbridge"] < seq["InstallValidate"] && seq["InstallValidate"] < seq["RemoveExistingProducts"] &&
		seq["RemoveExistingProducts"] < seq["InstallInitialize"] && seq["InstallFinalize"] < seq["StartCardbridge"]) {
		t.Errorf("install sequence out of order: %v", seq)
	}
	if cond["StartCardbridge"] != `NOT (REMOVE~="ALL")` {
		t.Errorf("StartCardbridge condition = %q; it must not run on uninstall", cond["StartCardbridge"])
	}
	for _, r := range msiTable(t, msi, "CustomAction") {
		typ, _ := strconv.Atoi(r["Type"])
		// 0x400: deferred (in-script). Deferred actions without
		// impersonation would run as LocalSystem in a per-machine install;
		// none is needed here.
		if typ&0x400 != 0 {
			t.Errorf("custom action %s is deferred (type %d)", r["Action"], typ)
		}
		if r["Action"] == "StopCardbridge" && !strings.Contains(r["Target"], `USERNAME eq [LogonUser]`) {
			t.Errorf("StopCardbridge %q would stop other users' cardbridge", r["Target"])
		}
	}
}

func TestMSIPayload(t *testing.T) {
	msi := artefact(t, msiName)
	dir := t.TempDir()
	output(t, "msiextract", "-C", dir, msi)
	base := filepath.Join(dir, "Programs", "cardbridge")
	exe := filepath.Join(base, "cardbridge.exe")
	f, err := pe.Open(exe)
	if err != nil {
		t.Fatalf("extracted cardbridge.exe: %v", err)
	}
	defer f.Close()
	if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
		t.Errorf("cardbridge.exe machine = %#x; want amd64", f.Machine)
	}
	// The GUI subsystem: started from the Run key, a console program
	// would open a console window at every logon.
	if oh, ok := f.OptionalHeader.(*pe.OptionalHeader64); !ok || oh.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_GUI {
		t.Errorf("cardbridge.exe is not a GUI-subsystem program")
	}
	// ProductVersion X.Y.Z.N is the program's version X.Y.Z, or
	// X.Y.Z+git.N.<commit> N commits after the tag.
	v := strings.Split(msiProperties(t, msi)["ProductVersion"], ".")
	if len(v) != 4 {
		t.Fatalf("ProductVersion %v", v)
	}
	version := strings.Join(v[:3], ".")
	if v[3] != "0" {
		version += "+git." + v[3] + "."
	}
	checkBuild(t, exe, "windows", "0", version)
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	// -trimpath: no build machine paths in the binary.
	if wd, _ := os.Getwd(); bytes.Contains(data, []byte(filepath.Dir(wd))) {
		t.Errorf("cardbridge.exe contains the build directory %s (built without -trimpath?)", filepath.Dir(wd))
	}
	for name, src := range map[string]string{
		HostName + ".json":         "manifests/windows/" + HostName + ".json",
		HostName + ".firefox.json": "manifests/windows/" + HostName + ".firefox.json",
	} {
		got, err := os.ReadFile(filepath.Join(base, name))
		if err != nil {
			t.Errorf("%s not in the MSI's payload: %v", name, err)
			continue
		}
		if !bytes.Equal(got, committed(t, src)) {
			t.Errorf("%s in the MSI differs from packaging/%s", name, src)
		}
	}
}
