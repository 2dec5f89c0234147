//go:build !unix && !windows

package installer

import "context"

func smartCardServiceUp(context.Context) error { return ErrUnsupported }
