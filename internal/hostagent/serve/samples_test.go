package serve

import (
	"testing"

	"github.com/fcmon/fcmon/internal/core/samplepb"
)

func TestAcceptsDense(t *testing.T) {
	tests := map[string]bool{
		samplepb.MediaType: true,
		"application/json, application/x-protobuf;proto=fcmon.v1.HostSamples;q=0.5": true,
		"application/x-protobuf; proto=fcmon.v1.HostSamples; q=0":                   false,
		"application/x-protobuf": false,
		"application/x-protobuf; proto=io.prometheus.client.MetricFamily": false,
		"application/json": false,
		"":                 false,
		"x;;;":             false,
	}
	for accept, want := range tests {
		if got := acceptsDense([]string{accept}); got != want {
			t.Errorf("acceptsDense(%q) = %v, want %v", accept, got, want)
		}
	}
}
