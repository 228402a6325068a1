-- A VM's labels, each a JSON object of string to string (NULL for none):
-- labels as the API set them (POST /v1/vms, PATCH /v1/vms/{id}), and
-- launcher_labels as its host agent reports them (Firecracker's metrics
-- properties, the fcmon-labels.json beside its API socket). The API's win
-- for a key both hold. Keep the logical schema equal in migrations/postgres
-- and migrations/sqlite.
ALTER TABLE vm ADD COLUMN labels TEXT;
ALTER TABLE vm ADD COLUMN launcher_labels TEXT;
