-- The agent connects as a login role that may only read: a second line of defence behind
-- the agent's own read-only transactions. The agent checks this at connect and refuses a
-- role that may write, create, own tables or reach server files (docs/OPERATORS.md).
CREATE ROLE synthgate_reader LOGIN;
GRANT pg_read_all_data TO synthgate_reader;
ALTER ROLE synthgate_reader SET default_transaction_read_only = on;
-- Pagila's dump grants ALL on schema public to PUBLIC, so every role could create there.
\connect pagila
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
