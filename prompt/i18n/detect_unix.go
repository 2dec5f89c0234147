//go:build unix && !darwin

package i18n

import "os"

// Detect reads the POSIX locale variables in their order of precedence
// for messages: LC_ALL, LC_MESSAGES, LANG. The first one that is set
// decides, even if it names an unsupported language, as the C library
// would; LANGUAGE (a GNU priority list) is consulted first when set, since
// desktop sessions use it for the user's chosen UI language.
func Detect() (Lang, bool) { return detectEnv(os.Getenv) }
