#!/usr/bin/env bash
# First start of compose.yaml's PostgreSQL: Polku's two roles and database (docs/DEPLOYMENT.md)
# and MLflow's database. Passwords come from the environment compose passes in.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE polku_owner LOGIN PASSWORD '${POLKU_OWNER_PASSWORD}';
CREATE ROLE polku_service LOGIN PASSWORD '${POLKU_SERVICE_PASSWORD}';
CREATE ROLE mlflow LOGIN PASSWORD '${MLFLOW_DB_PASSWORD}';
CREATE DATABASE polku OWNER polku_owner;
CREATE DATABASE mlflow OWNER mlflow;
GRANT CONNECT ON DATABASE polku TO polku_service;
\c polku
ALTER SCHEMA public OWNER TO polku_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO polku_service;
\c mlflow
ALTER SCHEMA public OWNER TO mlflow;
SQL
