package serve

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/samplepb"
)

// samples answers GET /v1/samples: every VM's latest figures in one
// document, JSON unless the request accepts the dense encoding. It reads
// nothing: every source keeps its latest reading.
func (a *api) samples(w http.ResponseWriter, r *http.Request) error {
	doc := a.Host.Samples(time.Now())
	if !acceptsDense(r.Header.Values("Accept")) {
		return writeJSON(w, http.StatusOK, doc)
	}
	var dense samplepb.HostSamples
	samplepb.FromWire(&doc, &dense)
	w.Header().Set("Content-Type", samplepb.MediaType)
	w.Header().Set("Vary", "Accept")
	_, err := w.Write(samplepb.Append(nil, &dense))
	return err
}

// acceptsDense reports whether an Accept header names samplepb's media
// type (with its proto parameter) at a quality above zero.
func acceptsDense(accept []string) bool {
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != "application/x-protobuf" || params["proto"] != "fcmon.v1.HostSamples" {
				continue
			}
			if q, ok := params["q"]; ok {
				if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}
