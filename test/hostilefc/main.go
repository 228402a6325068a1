// Command hostilefc is a hostile process posing as Firecracker, for the
// attack tests: built as a binary named firecracker (so its comm is
// Firecracker's), it takes Firecracker's flags and serves an API socket
// whose answers the attacker chose, and optionally a vsock socket that
// behaves as a hostile guest. It is what an unprivileged user, a jailed
// process or a tenant could run; nothing in it is Firecracker's behaviour
// beyond the flags and the socket protocols.
//
// HOSTILEFC_CONFIG names a JSON file:
//
//	{"instance": {...},        GET / answers this (default {"id": <--id>, "state": "Running"})
//	 "vm_config": {...},       GET /vm/config answers this (default {})
//	 "api": "normal" | "endless_headers" | "slow",
//	 "delay_ms": 0,            "slow": wait this long before each answer
//	 "vsock": "/v.sock",       listen there too, as the VM's vsock socket
//	 "vsock_mode": "endless_headers" | "capture",
//	 "capture": "/got",        append the headers of what arrives on the vsock socket
//	 "api_capture": "/asked",  append the request line of every API request
//	 "listen": ["/x.sock"]}    more sockets to listen on (and not answer)
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	Instance   json.RawMessage `json:"instance"`
	VMConfig   json.RawMessage `json:"vm_config"`
	API        string          `json:"api"`
	DelayMs    int             `json:"delay_ms"`
	Vsock      string          `json:"vsock"`
	VsockMode  string          `json:"vsock_mode"`
	Capture    string          `json:"capture"`
	APICapture string          `json:"api_capture"`
	Listen     []string        `json:"listen"`
}

func main() {
	fs := flag.NewFlagSet("firecracker", flag.ContinueOnError)
	apiSock := fs.String("api-sock", "/run/firecracker.socket", "")
	id := fs.String("id", "anonymous-instance", "")
	fs.String("metrics-path", "", "")
	fs.String("config-file", "", "")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(1)
	}
	if err := run(*apiSock, *id); err != nil {
		fmt.Fprintln(os.Stderr, "hostilefc:", err)
		os.Exit(1)
	}
}

func run(apiSock, id string) error {
	var cfg config
	if path := os.Getenv("HOSTILEFC_CONFIG"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if cfg.Instance == nil {
		cfg.Instance, _ = json.Marshal(map[string]string{"id": id, "state": "Running", "vmm_version": "1.16.1", "app_name": "Firecracker"})
	}
	if cfg.VMConfig == nil {
		cfg.VMConfig = json.RawMessage(`{}`)
	}
	os.Remove(apiSock)
	api, err := net.Listen("unix", apiSock)
	if err != nil {
		return err
	}
	go serve(api, func(c net.Conn) { answerAPI(c, &cfg) })
	if cfg.Vsock != "" {
		os.Remove(cfg.Vsock)
		v, err := net.Listen("unix", cfg.Vsock)
		if err != nil {
			return err
		}
		go serve(v, func(c net.Conn) { answerVsock(c, &cfg) })
	}
	for _, p := range cfg.Listen {
		os.Remove(p)
		l, err := net.Listen("unix", p)
		if err != nil {
			return err
		}
		go serve(l, func(c net.Conn) { c.Close() })
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}

func serve(l net.Listener, handle func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go handle(c)
	}
}

// answerAPI answers requests on one API connection as cfg says.
func answerAPI(c net.Conn, cfg *config) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		req.Body.Close()
		appendTo(cfg.APICapture, req.Method+" "+req.URL.Path+"\n")
		switch cfg.API {
		case "endless_headers":
			endless(c)
			return
		case "slow":
			time.Sleep(time.Duration(cfg.DelayMs) * time.Millisecond)
		}
		var status int
		var body []byte
		switch req.Method + " " + req.URL.Path {
		case "GET /":
			status, body = 200, cfg.Instance
		case "GET /vm/config":
			status, body = 200, cfg.VMConfig
		case "PUT /actions":
			status = 204
		default:
			status, body = 400, []byte(`{"fault_message":"Invalid request method and/or path."}`)
		}
		head := "HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n"
		if _, err := c.Write(append([]byte(head), body...)); err != nil {
			return
		}
	}
}

// answerVsock is a hostile guest behind the vsock socket: it accepts any
// CONNECT, then either records what the host sends or answers with a
// header that never ends.
func answerVsock(c net.Conn, cfg *config) {
	defer c.Close()
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "CONNECT ") {
		return
	}
	c.Write([]byte("OK 1073741824\n"))
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	var hdr strings.Builder
	req.Header.Write(&hdr)
	appendTo(cfg.Capture, hdr.String())
	if cfg.VsockMode == "endless_headers" {
		endless(c)
		return
	}
	body := `{"cpu_usage_percent":1,"memory_usage_percent":50,"memory_used_kb":100,"memory_total_kb":200,"memory_available_kb":100,"uptime_seconds":1}`
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

// endless starts an answer whose header line never ends, until the peer
// goes away.
func endless(c net.Conn) {
	if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nX-Endless: ")); err != nil {
		return
	}
	chunk := []byte(strings.Repeat("a", 64<<10))
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// appendTo appends s to the file at path ("" for none).
func appendTo(path, s string) {
	if path == "" {
		return
	}
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
		f.WriteString(s)
		f.Close()
	}
}
