-- The secret managers sharing one database sign their requests to each
-- other with (X-Fcmon-Peer): made by the first manager to start, read by
-- every one; whoever can read the database is a peer. Keep the logical
-- schema equal in migrations/postgres and migrations/sqlite.
CREATE TABLE cluster_secret (
	id     INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	secret TEXT    NOT NULL CHECK (length(secret) >= 32)
);
