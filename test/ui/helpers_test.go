package ui

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// register posts a VM to the manager at addr and fails the test unless
// it answers 201.
func register(t *testing.T, addr, token string, body map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/vms", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(res.Body)
		t.Fatalf("registering %v: %s: %s", body["name"], res.Status, msg)
	}
}

// artifactsDir is test-artifacts/<name> at the repository root
// (gitignored), emptied first.
func artifactsDir(t *testing.T, name string) string {
	dir, err := filepath.Abs("../../test-artifacts/" + name)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// docsDir is docs/ with -update, else "" (screenshots then stay
// artifacts).
func docsDir(t *testing.T) string {
	if !*update {
		return ""
	}
	p, err := filepath.Abs("../../docs")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// screenshotPath is docs/ui-metrics-tab.png with -update, else "" (the
// metrics tab's screenshot then stays an artifact).
func screenshotPath(t *testing.T) string {
	if !*update {
		return ""
	}
	p, err := filepath.Abs("../../docs/ui-metrics-tab.png")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
