package netpolicy

import "net/netip"

// MetadataAddr is a well-known address of a cloud's instance metadata (or
// similar credential-serving) service. Such a service hands out the
// credentials of the machine that asks, so a manager or host agent tricked
// into contacting it would leak them.
type MetadataAddr struct {
	Addr netip.Addr
	What string
}

// Metadata lists the well-known metadata addresses. No allow-list allows
// them, whatever networks it holds: those in link-local ranges are refused
// as link-local anyway, the others lie inside ranges operators commonly
// allow (100.64.0.0/10, fc00::/7). docs/security.md lists them too.
var Metadata = []MetadataAddr{
	{netip.MustParseAddr("169.254.169.254"), "the instance metadata service of AWS, GCP, Azure, OpenStack, Oracle and others"},
	{netip.MustParseAddr("169.254.170.2"), "the AWS ECS task metadata and credentials endpoint"},
	{netip.MustParseAddr("169.254.170.23"), "the AWS EKS Pod Identity agent"},
	{netip.MustParseAddr("169.254.0.23"), "the Tencent Cloud metadata service"},
	{netip.MustParseAddr("fd00:ec2::254"), "the AWS instance metadata service over IPv6"},
	{netip.MustParseAddr("fd00:ec2::23"), "the AWS EKS Pod Identity agent over IPv6"},
	{netip.MustParseAddr("100.100.100.200"), "the Alibaba Cloud metadata service"},
	{netip.MustParseAddr("168.63.129.16"), "the Azure WireServer (host agent and metadata)"},
}

var metadataByAddr = func() map[netip.Addr]string {
	m := make(map[netip.Addr]string, len(Metadata))
	for _, a := range Metadata {
		m[a.Addr] = a.What
	}
	return m
}()
