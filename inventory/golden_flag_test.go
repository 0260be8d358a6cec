package inventory

// Every test package defines -update, so that "go test ./... -update"
// works across the module.
import _ "github.com/tendhq/tend/internal/golden"
