package installer

import (
	"errors"

	"golang.org/x/sys/windows/registry"
)

// registerNativeHost sets the default value of the host's key to its
// manifest's path, as Chrome, Edge and Firefox read it.
func registerNativeHost(h NativeHost) (bool, error) {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, h.RegistryKey, registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return false, err
	}
	defer k.Close()
	if old, _, err := k.GetStringValue(""); err == nil && old == h.Manifest {
		return false, nil
	}
	return true, k.SetStringValue("", h.Manifest)
}

func unregisterNativeHost(h NativeHost) (bool, error) {
	err := registry.DeleteKey(registry.CURRENT_USER, h.RegistryKey)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func nativeHostRegistered(h NativeHost) (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, h.RegistryKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer k.Close()
	v, _, err := k.GetStringValue("")
	if err != nil {
		return false, nil
	}
	return v == h.Manifest, nil
}
