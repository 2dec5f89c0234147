//go:build !windows

package installer

// Outside Windows the browsers find the host by its manifest's file
// name: there is nothing to register.

func registerNativeHost(NativeHost) (bool, error)   { return false, nil }
func unregisterNativeHost(NativeHost) (bool, error) { return false, nil }
func nativeHostRegistered(NativeHost) (bool, error) { return true, nil }
