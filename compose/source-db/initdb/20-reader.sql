-- The agent connects as a login role that may only read: a second line of defence behind
-- the agent's own read-only transactions.
CREATE ROLE synthgate_reader LOGIN;
GRANT pg_read_all_data TO synthgate_reader;
ALTER ROLE synthgate_reader SET default_transaction_read_only = on;
