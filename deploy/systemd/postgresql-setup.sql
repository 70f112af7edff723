-- The role and the database of the Brickyard servers (docs/ha.md). Run once, as a PostgreSQL
-- superuser, on the primary:
--
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -f postgresql-setup.sql
--
-- psql asks for the new role's password (\password below: it never appears in the shell's
-- history, in ps or in the server's log). Put the same password in BRICKYARD_DB (ha.env, or the
-- Kubernetes Secret). The servers create and upgrade their tables themselves at start: the role
-- owns the database and its schema public, and needs nothing else (no superuser, no CREATEDB).
-- To run it unattended, remove the \password line and set the password afterwards, e.g.
-- ALTER ROLE brickyard PASSWORD '...' from a psql session whose history is not kept.

CREATE ROLE brickyard LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
\password brickyard

CREATE DATABASE brickyard OWNER brickyard ENCODING 'UTF8' TEMPLATE template0;
-- Only brickyard (and superusers) may connect.
REVOKE ALL ON DATABASE brickyard FROM PUBLIC;

\connect brickyard
-- PostgreSQL 15 and later: public belongs to the database owner already. Up to 14 everyone may
-- create in it: give it to brickyard and take that right from the others.
ALTER SCHEMA public OWNER TO brickyard;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- pg_hba.conf on PostgreSQL's side must let the server hosts in, with TLS and a password, e.g.
--   hostssl  brickyard  brickyard  10.0.0.11/32  scram-sha-256
--   hostssl  brickyard  brickyard  10.0.0.12/32  scram-sha-256
-- (then SELECT pg_reload_conf();). For Kubernetes, the pods' network instead of two hosts.
