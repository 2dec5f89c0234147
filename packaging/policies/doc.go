// Package policies holds ready-made browser policy files for
// administrators (see docs/admin.md): Chrome, Chromium and Edge on Linux
// (JSON), Windows (.reg) and macOS (.mobileconfig), Firefox
// (policies.json), and cardbridge's own machine-wide config. It has no
// code; its tests parse every file and check the policy names, the
// extension ids and the portal list.
package policies
