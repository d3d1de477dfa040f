-- Time-ordered ids for the history rows Sweep inserts by the hundred in every job (the
-- operation log of each deleted instance, job-log and external-task-log entries): the layout
-- of a version 7 UUID, 48 bits of Unix milliseconds and then random bits, in the 36-character
-- text form Camunda's ids have. Consecutive inserts land at the right edge of the primary
-- key's B-tree instead of on a random page of it, which dirties (and logs) far fewer pages.
create function SWEEP_UUID_V7() returns varchar
language sql volatile parallel safe as $$
    select overlay(overlay(gen_random_uuid()::text
                           placing substr(t.h, 1, 8) || '-' || substr(t.h, 9, 4) from 1 for 13)
                   placing '7' from 15 for 1)
      from (select lpad(to_hex(floor(extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0') as h) t
$$;
