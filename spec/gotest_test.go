package spec_test

import (
	"net/http"
	"testing"

	"github.com/sessionspec/sessionspec/reference"
	"github.com/sessionspec/sessionspec/spec"
)

// The reference on its real clock (time.Now, time.AfterFunc), inside a
// synctest bubble: the 900 s default is checked on virtual time.
func TestReferenceOnVirtualTime(t *testing.T) {
	spec.Test(t, func(t *testing.T) http.Handler {
		site := reference.NewSite(reference.Config{})
		return reference.NewServer(site, nil)
	})
}
