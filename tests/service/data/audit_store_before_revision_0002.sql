-- An audit store as main made it with the versions and the kill switch but before Alembic
-- (main at ede59d8): three suggestions, a decision and a switch event, chained with the key
-- b'k' * 32 (`sqlite3 .dump`).
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
	rules_version VARCHAR(64), 
	model_version VARCHAR(64), 
	model_hash VARCHAR(64), 
	catalog_version VARCHAR(64), 
	chain_hash VARCHAR(64), 
	PRIMARY KEY (id), 
	FOREIGN KEY(request_id) REFERENCES suggestions (request_id) ON DELETE CASCADE
);
INSERT INTO "decisions" VALUES(1,'00000000000000000000000000000000','2026-03-01 12:05:00.000000','desk-1','suggested','debt_advice',1,NULL,NULL,NULL,NULL,NULL,'4df3bf0270b50017c775cdfdff2ffdd011483544c621f12550f88702c713ac06');
CREATE TABLE model_switch_events (
	id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	actor VARCHAR(64) NOT NULL, 
	model_on BOOLEAN NOT NULL, 
	reason TEXT NOT NULL, 
	rules_version VARCHAR(64), 
	model_version VARCHAR(64), 
	model_hash VARCHAR(64), 
	catalog_version VARCHAR(64), 
	chain_hash VARCHAR(64), 
	PRIMARY KEY (id)
);
INSERT INTO "model_switch_events" VALUES(1,'2026-03-01 12:10:00.000000','ds-1',0,'drift check',NULL,NULL,NULL,NULL,'0fd262f86ba134ddfb15b9c74ce49314b126daca6e7fd039c8cdfe3988afb833');
CREATE TABLE security_events (
	id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	event VARCHAR(32) NOT NULL, 
	actor VARCHAR(64), 
	request_id VARCHAR(36), 
	rules_version VARCHAR(64), 
	model_version VARCHAR(64), 
	model_hash VARCHAR(64), 
	catalog_version VARCHAR(64), 
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
	model_hash VARCHAR(64), 
	catalog_version VARCHAR(64), 
	degraded BOOLEAN, 
	chain_hash VARCHAR(64), 
	PRIMARY KEY (id), 
	UNIQUE (request_id)
);
INSERT INTO "suggestions" VALUES(1,'00000000000000000000000000000000','2026-03-01 12:00:00.000000','recommendation','desk-1','kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk','hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh','kuntakokeilu-amendment-2022','3','employment_12m','fi',2,1,'helsinki','[{"service_id": "debt_advice"}, {"service_id": "work_trial"}]',NULL,NULL,0,'742c0df62cd9a8f141e317ea10eaef543afe3ab38e109513fc92c0d1e58dbf25');
INSERT INTO "suggestions" VALUES(2,'00000000000000000000000000000001','2026-03-01 12:00:00.000000','recommendation','desk-1','kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk','hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh','kuntakokeilu-amendment-2022','3','employment_12m','fi',2,1,'helsinki','[{"service_id": "debt_advice"}, {"service_id": "work_trial"}]',NULL,NULL,0,'6df19e1f1005947bbe049925972530c540d6e520f2764dd4b5c20d474af8f6ad');
INSERT INTO "suggestions" VALUES(3,'00000000000000000000000000000002','2026-03-01 12:00:00.000000','recommendation','desk-1','kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk','hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh','kuntakokeilu-amendment-2022','3','employment_12m','fi',2,1,'helsinki','[{"service_id": "debt_advice"}, {"service_id": "work_trial"}]',NULL,NULL,0,'5101320b839385a6dca37fd79756f6afe348f0fef1574bd0ab74d850097433f8');
CREATE INDEX ix_suggestions_created_at ON suggestions (created_at);
CREATE INDEX ix_suggestions_client_key ON suggestions (client_key);
CREATE INDEX ix_security_events_created_at ON security_events (created_at);
CREATE INDEX ix_decisions_request_id ON decisions (request_id);
CREATE TRIGGER suggestions_append_only BEFORE UPDATE ON suggestions  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER decisions_append_only BEFORE UPDATE ON decisions  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER security_events_append_only BEFORE UPDATE ON security_events  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER model_switch_events_append_only BEFORE UPDATE ON model_switch_events  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER audit_tombstones_append_only BEFORE UPDATE ON audit_tombstones  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER model_switch_events_no_delete BEFORE DELETE ON model_switch_events  BEGIN SELECT RAISE(ABORT, 'switch events stay'); END;
CREATE TRIGGER model_switch_events_chained_insert BEFORE INSERT ON model_switch_events WHEN NEW.chain_hash IS NULL BEGIN SELECT RAISE(ABORT, 'audit records are written only by the audit writer'); END;
CREATE TRIGGER suggestions_no_delete BEFORE DELETE ON suggestions WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits) BEGIN SELECT RAISE(ABORT, 'audit records are deleted only by retention'); END;
CREATE TRIGGER suggestions_chained_insert BEFORE INSERT ON suggestions WHEN NEW.chain_hash IS NULL BEGIN SELECT RAISE(ABORT, 'audit records are written only by the audit writer'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits) BEGIN SELECT RAISE(ABORT, 'audit records are deleted only by retention'); END;
CREATE TRIGGER decisions_chained_insert BEFORE INSERT ON decisions WHEN NEW.chain_hash IS NULL BEGIN SELECT RAISE(ABORT, 'audit records are written only by the audit writer'); END;
CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits) BEGIN SELECT RAISE(ABORT, 'audit records are deleted only by retention'); END;
CREATE TRIGGER security_events_chained_insert BEFORE INSERT ON security_events WHEN NEW.chain_hash IS NULL BEGIN SELECT RAISE(ABORT, 'audit records are written only by the audit writer'); END;
CREATE TRIGGER audit_tombstones_no_delete BEFORE DELETE ON audit_tombstones  BEGIN SELECT RAISE(ABORT, 'tombstones stay'); END;
COMMIT;
