//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
)

func runLossy(context.Context, []string, io.Writer) (output, error) {
	return output{}, errors.New("lossy needs Linux (network namespaces and TUN devices)")
}
