-- Claims up to $2 outbox rows whose claim has expired (their writer died or gave up) for $1
-- seconds, oldest first. SKIP LOCKED: concurrent relays take different rows. One statement,
-- committed on its own: nothing stays locked while the claimant publishes.
UPDATE sweep_outbox o
   SET claimed_until_ = now() + make_interval(secs => $1)
 WHERE o.id_ IN (SELECT id_
                   FROM sweep_outbox
                  WHERE claimed_until_ < now()
                  ORDER BY id_
                  LIMIT $2
                    FOR UPDATE SKIP LOCKED)
RETURNING o.id_, o.exchange_, o.routing_key_, o.payload_,
          o.headers_->>'traceparent' AS traceparent,
          coalesce((o.headers_->>'split')::boolean, false) AS split
