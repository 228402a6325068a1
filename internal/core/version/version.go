// Package version holds the build's version string, stamped by the Makefile
// with -ldflags "-X github.com/fcmon/fcmon/internal/core/version.Version=...".
package version

// Version is the release this binary was built from; "dev" for unstamped builds.
var Version = "dev"
