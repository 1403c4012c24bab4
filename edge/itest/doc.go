// Package itest holds the integration tests that run real edge processes
// (built from cmd/edge) on loopback sockets: crash safety under kill -9,
// graceful drain on SIGTERM, and end-to-end use through the Go client SDK.
// It has no non-test code besides this comment; it must not be imported.
package itest
