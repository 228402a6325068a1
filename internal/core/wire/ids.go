package wire

// PeerHeader marks a request one manager sends another sharing its
// database: the asking manager's id, signed (see the manager's cluster).
const PeerHeader = "X-Fcmon-Peer"
