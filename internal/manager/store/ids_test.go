package store

import "testing"

func TestIDs(t *testing.T) {
	for in, want := range map[string]string{
		"6F1C2B1E-6C2A-4F3E-9D0B-3F6F0C1A7E21":   "6f1c2b1e-6c2a-4f3e-9d0b-3f6f0c1a7e21",
		"{6f1c2b1e-6c2a-4f3e-9d0b-3f6f0c1a7e21}": "", "6f1c2b1e6c2a4f3e9d0b3f6f0c1a7e21": "", "6f1c2b1e-6c2a-4f3e-9d0b-3f6f0c1a7e2g": "",
	} {
		if got, ok := ParseUUID(in); got != want || ok != (want != "") {
			t.Errorf("ParseUUID(%q) = %q, %v", in, got, ok)
		}
	}
	if id, ok := ParseUUID(NewUUID()); !ok || id[14] != '4' {
		t.Errorf("NewUUID gave %q", id)
	}
	a, b := HostVMUUID("h1", "vm"), HostVMUUID("h1", "vm")
	if a != b || a == HostVMUUID("h2", "vm") || a[14] != '5' {
		t.Errorf("HostVMUUID: %q %q", a, b)
	}
}
