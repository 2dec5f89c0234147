//go:build !linux && !darwin && !windows

package installer

import "context"

// UserBinPath is not defined on this platform.
func UserBinPath(string) (string, error) { return "", ErrUnsupported }

func install(context.Context, Config, *Result) error   { return ErrUnsupported }
func uninstall(context.Context, Config, *Result) error { return ErrUnsupported }
func status(context.Context, Config, *Status) error    { return ErrUnsupported }

func ownsUserBinary(Config, string) bool { return false }

func registrationDirs(Config) []string { return nil }
