package register

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

// maxResponseHead bounds what post reads of the manager's answer.
const maxResponseHead = 8192

// post sends one registration: POST {prefix}/v1/vms/{vmID}/guest-ip with
// {"guest_ip": ip, "guest_port": port}. A non-2xx answer is an error that
// carries the status and the start of the body (the manager's message).
func post(ctx context.Context, t Target, to netip.AddrPort, vmID, token, userAgent string, ip netip.Addr, port uint16) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := sock.Dial(ctx, to)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetReadDeadline(deadline)
	conn.SetWriteDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if _, err := conn.Write(request(t, vmID, token, userAgent, ip, port)); err != nil {
		return errors.New("sending registration: " + err.Error())
	}
	status, body, err := readResponse(conn)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return errors.New("manager answered " + strconv.Itoa(status) + ": " + body)
	}
	return nil
}

func request(t Target, vmID, token, userAgent string, ip netip.Addr, port uint16) []byte {
	p := int(port)
	req := wire.GuestIPRequest{GuestIP: ip.String(), GuestPort: &p}
	body := req.AppendJSON(nil)
	var b bytes.Buffer
	b.WriteString("POST " + t.Prefix + "/v1/vms/" + vmID + "/guest-ip HTTP/1.1\r\n")
	b.WriteString("Host: " + t.hostHeader() + "\r\n")
	b.WriteString("User-Agent: " + userAgent + "\r\n")
	b.WriteString("Content-Type: application/json\r\nAccept: application/json\r\n")
	if token != "" {
		b.WriteString("Authorization: Bearer " + token + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

// readResponse reads the status code and up to 200 bytes of the body that
// arrived with the head.
func readResponse(r io.Reader) (int, string, error) {
	buf := make([]byte, maxResponseHead)
	n := 0
	for {
		k, err := r.Read(buf[n:])
		n += k
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
			status, perr := parseStatusLine(buf[:i])
			body := buf[i+4 : n]
			return status, strings.TrimSpace(string(body[:min(len(body), 200)])), perr
		}
		switch {
		case n == len(buf):
			return 0, "", errors.New("manager's response head exceeds " + strconv.Itoa(maxResponseHead) + " bytes")
		case errors.Is(err, io.EOF):
			return 0, "", errors.New("manager closed the connection without a complete response")
		case err != nil:
			return 0, "", errors.New("reading the manager's response: " + err.Error())
		}
	}
}

func parseStatusLine(head []byte) (int, error) {
	line, _, _ := bytes.Cut(head, []byte("\r\n"))
	rest, ok := bytes.CutPrefix(line, []byte("HTTP/1."))
	if !ok || len(rest) < 5 || rest[1] != ' ' {
		return 0, errors.New("manager's response starts with " + strconv.Quote(string(line[:min(len(line), 40)])) + ", not an HTTP/1.x status line")
	}
	code, err := strconv.Atoi(string(rest[2:5]))
	if err != nil || code < 100 || code > 599 {
		return 0, errors.New("manager's response has an invalid status code in " + strconv.Quote(string(line[:min(len(line), 40)])))
	}
	return code, nil
}
