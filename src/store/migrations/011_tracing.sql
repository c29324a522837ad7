-- OpenTelemetry traces across the loops (docs/design.md, "Tracing"). A write's trace context
-- (W3C traceparent) travels with the window it opens to the closer, and each event's to the
-- delivery attempts, which run later and possibly in another process.
--
-- contact_windows.traceparent: the write that opened the window (the window span's parent);
-- contact_windows.trace_links: the writes that joined it since (its span's links, at most 32);
-- events.traceparent: the event's own span (the parent of each delivery attempt's span).
--
-- NULL while tracing is off: nothing is written then. Additive only, and IF NOT EXISTS, so it
-- applies after 009 whether `events` is a plain or a partitioned table (a column added to a
-- partitioned parent is added to every partition).
ALTER TABLE contact_windows
  ADD COLUMN IF NOT EXISTS traceparent text,
  ADD COLUMN IF NOT EXISTS trace_links text[];

ALTER TABLE events ADD COLUMN IF NOT EXISTS traceparent text;
