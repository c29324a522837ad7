-- The delivery queue, made cheaper per delivery (see BENCHMARKS.md, "Delivery").
--
-- Foreign keys on the queue's hot tables cost a trigger and a row lock per written row (a
-- subscription row share-locked by every delivery inserted for it, a delivery row by each of its
-- attempts). The store writes these tables only in the transactions that also check what they
-- point at (fan-out reads the events and subscriptions it joins), and removes them explicitly with
-- what they belong to (deleting a subscription, purging events), so the constraints go.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_subscription_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_seq_fkey;
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_delivery_id_fkey;

-- Identifiers are compared byte by byte: cheaper than the database's collation, and the same order
-- on every server.
ALTER TABLE deliveries ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE deliveries ALTER COLUMN subscription_id TYPE text COLLATE "C";
ALTER TABLE delivery_attempts ALTER COLUMN delivery_id TYPE text COLLATE "C";
ALTER TABLE subscriptions ALTER COLUMN id TYPE text COLLATE "C";

-- One index for the attempt log: its key is the delivery, then the attempt's order.
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_pkey;
DROP INDEX delivery_attempts_delivery_idx;
ALTER TABLE delivery_attempts ADD PRIMARY KEY (delivery_id, id);
