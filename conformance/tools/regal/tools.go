//go:build tools

// Package tools pins Regal, the Rego linter pssgen runs over its generated
// Rego. Newer Regal releases moved to a module path the Go proxy does not
// serve here, and `go install pkg@version` of this one fails on the proxy's
// deprecation lookup, so the pin lives in this module's go.mod instead and
// generator/tools.py runs `go install` from this folder.
package tools

import _ "github.com/styrainc/regal"
