-- SWEEP_UUID_V7 as one expression without a FROM clause, which PostgreSQL inlines into the
-- statement that calls it: the former body (a sub-select) ran through the SQL-function
-- executor once per row, about four times the cost of the random UUID it starts from, paid
-- for every operation-log and job-log row a job writes. Same layout: 48 bits of Unix
-- milliseconds, then version 7 and random bits, in Camunda's 36-character text form.
create or replace function SWEEP_UUID_V7() returns varchar
language sql volatile parallel safe as $$
    select overlay(overlay(gen_random_uuid()::text
                           placing overlay(lpad(to_hex(floor(extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0')
                                           placing '-' from 9 for 0)
                           from 1 for 13)
                   placing '7' from 15 for 1)::varchar
$$;
