-- The sweeper's two sources of work: workflows whose next timeout is due (`next_check_at`,
-- set with every decision), and polled tasks whose lease (response timeout) ran out.
ALTER TABLE workflows ADD COLUMN next_check_at BIGINT;
CREATE INDEX workflows_due ON workflows (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX queue_entries_leases ON queue_entries (leased_until) WHERE leased_until IS NOT NULL;
