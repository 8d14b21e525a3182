-- An audit store as the code before Alembic (main at 6f3292d) made it: its schema with
-- three suggestions and a decision, chained with the key b'k' * 32 (`sqlite3 .dump`).
BEGIN TRANSACTION;
CREATE TABLE audit_prune_permits (
	id INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE audit_tombstones (
	id INTEGER NOT NULL, 
	table_name VARCHAR(32) NOT NULL, 
	row_id INTEGER NOT NULL, 
	chain_hash VARCHAR(64) NOT NULL, 
	seal VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (table_name, row_id)
);
CREATE TABLE decisions (
	id INTEGER NOT NULL, 
	request_id VARCHAR(36) NOT NULL, 
	created_at DATETIME NOT NULL, 
	actor VARCHAR(64), 
	choice VARCHAR(16) NOT NULL, 
	service_id VARCHAR(64), 
	followed_top BOOLEAN NOT NULL, 
	reason TEXT, 
	chain_hash VARCHAR(64), 
	PRIMARY KEY (id), 
	FOREIGN KEY(request_id) REFERENCES suggestions (request_id) ON DELETE CASCADE
);
INSERT INTO "decisions" VALUES(1,'00000000000000000000000000000000','2026-03-01 12:05:00.000000','desk-1','suggested','debt_advice',1,NULL,'4df3bf0270b50017c775cdfdff2ffdd011483544c621f12550f88702c713ac06');
CREATE TABLE security_events (
	id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	event VARCHAR(32) NOT NULL, 
	actor VARCHAR(64), 
	request_id VARCHAR(36), 
	chain_hash VARCHAR(64), 
	PRIMARY KEY (id)
);
CREATE TABLE suggestions (
	id INTEGER NOT NULL, 
	request_id VARCHAR(36) NOT NULL, 
	created_at DATETIME NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	actor VARCHAR(64), 
	client_key VARCHAR(64) NOT NULL, 
	input_hash VARCHAR(64) NOT NULL, 
	rules_version VARCHAR(64) NOT NULL, 
	model_version VARCHAR(64), 
	objective VARCHAR(200), 
	language VARCHAR(2) NOT NULL, 
	top_k INTEGER, 
	eligible BOOLEAN NOT NULL, 
	responsible_office VARCHAR(32) NOT NULL, 
	ranking TEXT NOT NULL, 
	chain_hash VARCHAR(64), 
	PRIMARY KEY (id), 
	UNIQUE (request_id)
);
INSERT INTO "suggestions" VALUES(1,'00000000000000000000000000000000','2026-03-01 12:00:00.000000','recommendation','desk-1','kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk','hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh','kuntakokeilu-amendment-2022','3','employment_12m','fi',2,1,'helsinki','[{"service_id": "debt_advice"}, {"service_id": "work_trial"}]','a3f65754c041152eaca593b6af5ca1c27f45b366d7515078a74ec9f6d01394cb');
INSERT INTO "suggestions" VALUES(2,'00000000000000000000000000000001','2026-03-01 12:00:00.000000','recommendation','desk-1','kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk','hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh','kuntakokeilu-amendment-2022','3','employment_12m','fi',2,1,'helsinki','[{"service_id": "debt_advice"}, {"service_id": "work_trial"}]','6bb9dfdd4c1cc8b14beb648b1c524f73c8b9f51e8c4a71ac7c57bcf370f5f5f2');
INSERT INTO "suggestions" VALUES(3,'00000000000000000000000000000002','2026-03-01 12:00:00.000000','recommendation','desk-1','kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk','hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh','kuntakokeilu-amendment-2022','3','employment_12m','fi',2,1,'helsinki','[{"service_id": "debt_advice"}, {"service_id": "work_trial"}]','ce40c71aeb1dffec673166864faa9c992e56ddb8ff0b4bd31fc39926db26e2a3');
CREATE INDEX ix_suggestions_created_at ON suggestions (created_at);
CREATE INDEX ix_suggestions_client_key ON suggestions (client_key);
CREATE INDEX ix_security_events_created_at ON security_events (created_at);
CREATE INDEX ix_decisions_request_id ON decisions (request_id);
CREATE TRIGGER suggestions_append_only BEFORE UPDATE ON suggestions  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER decisions_append_only BEFORE UPDATE ON decisions  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER security_events_append_only BEFORE UPDATE ON security_events  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER audit_tombstones_append_only BEFORE UPDATE ON audit_tombstones  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER suggestions_no_delete BEFORE DELETE ON suggestions WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits) BEGIN SELECT RAISE(ABORT, 'audit records are deleted only by retention'); END;
CREATE TRIGGER suggestions_chained_insert BEFORE INSERT ON suggestions WHEN NEW.chain_hash IS NULL BEGIN SELECT RAISE(ABORT, 'audit records are written only by the audit writer'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits) BEGIN SELECT RAISE(ABORT, 'audit records are deleted only by retention'); END;
CREATE TRIGGER decisions_chained_insert BEFORE INSERT ON decisions WHEN NEW.chain_hash IS NULL BEGIN SELECT RAISE(ABORT, 'audit records are written only by the audit writer'); END;
CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits) BEGIN SELECT RAISE(ABORT, 'audit records are deleted only by retention'); END;
CREATE TRIGGER security_events_chained_insert BEFORE INSERT ON security_events WHEN NEW.chain_hash IS NULL BEGIN SELECT RAISE(ABORT, 'audit records are written only by the audit writer'); END;
CREATE TRIGGER audit_tombstones_no_delete BEFORE DELETE ON audit_tombstones  BEGIN SELECT RAISE(ABORT, 'tombstones stay'); END;
COMMIT;
