package fcmonctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/tlsconf"
)

// maxAnswerBytes bounds what fcmonctl reads of one answer: a page of
// 1,000 VMs with their samples is well under it.
const maxAnswerBytes = 64 << 20

// client speaks the manager's API.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// newClient checks the global options and returns the client. Its errors
// name the flag or variable to fix.
func newClient(o globals) (*client, error) {
	u, err := url.Parse(o.manager)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--manager %q is not an http:// or https:// URL such as http://127.0.0.1:8080 (or set FCMON_MANAGER)", o.manager)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	token := o.token
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("--token-file %s is empty", o.tokenFile)
		}
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return nil, errors.New("the token contains white space; a bearer token is one word")
	}
	tlsConf, err := tlsconf.NewClient(tlsconf.ClientOptions{CAFile: o.caFile, CertFile: o.certFile, KeyFile: o.keyFile,
		CAFlag: "--ca-file", CertFlag: "--cert-file"})
	if err != nil {
		return nil, err
	}
	if tlsConf != nil && u.Scheme != "https" {
		return nil, errors.New("--ca-file, --cert-file and --key-file need an https:// --manager")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the manager is reached directly, never through a proxy of the environment
	tr.TLSClientConfig = tlsConf
	return &client{base: u, token: token, http: &http.Client{Transport: tr, Timeout: o.timeout}}, nil
}

// apiError is the manager's answer to a request it refused.
type apiError struct {
	method, path string
	status       int
	message      string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.method, e.path, e.status, http.StatusText(e.status), e.message)
}

// get fetches path (with query q) and returns the answer's body; a status
// other than 200 is an *apiError carrying the manager's message.
func (c *client) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "fcmonctl")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the manager at %s does not answer: %w", c.base.Redacted(), unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the answer: %w", path, err)
	}
	if len(body) > maxAnswerBytes {
		return nil, fmt.Errorf("GET %s: the answer is larger than %d MiB", path, maxAnswerBytes>>20)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		return nil, &apiError{method: "GET", path: path, status: resp.StatusCode, message: msg}
	}
	return body, nil
}

// getJSON fetches path and decodes its JSON into v, returning the raw
// answer too (what --output json prints).
func (c *client) getJSON(ctx context.Context, path string, q url.Values, v any) ([]byte, error) {
	body, err := c.get(ctx, path, q)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("GET %s: the answer is not the JSON expected (%w); is %s a manager?", path, err, c.base.Redacted())
	}
	return body, nil
}

// unwrapURL drops url.Error's repetition of the method and URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// printJSON writes raw, the manager's answer, indented, with a newline.
func printJSON(w io.Writer, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// when formats a Unix-ms time for a table: the clock time today, the date
// before; "-" for none.
func when(ms int64, now time.Time) string {
	if ms <= 0 {
		return "-"
	}
	t := time.UnixMilli(ms).Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}
