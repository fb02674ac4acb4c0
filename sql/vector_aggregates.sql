-- avg(vector) and sum(vector), their state functions, and parallel plans.

SELECT avg(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]']) v;
SELECT avg(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]', NULL]) v;
SELECT avg(v) FROM unnest(ARRAY[]::vector[]) v;
SELECT avg(v) FROM unnest(ARRAY[NULL]::vector[]) v;
SELECT avg(v) FROM unnest(ARRAY['[1,2]'::vector, '[3]']) v;
SELECT avg(v) FROM unnest(ARRAY['[3e38]'::vector, '[3e38]']) v;
SELECT avg(v) FROM unnest(ARRAY['[0.1]'::vector, '[0.2]', '[0.3]']) v;

SELECT sum(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]']) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]', NULL]) v;
SELECT sum(v) FROM unnest(ARRAY[]::vector[]) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2]'::vector, '[3]']) v;
SELECT sum(v) FROM unnest(ARRAY['[3e38]'::vector, '[3e38]']) v;

-- Grouped, and over a window.
SELECT g, avg(v), sum(v)
FROM (VALUES (1, '[1,1]'::vector), (1, '[3,5]'), (2, '[2,2]')) AS t(g, v)
GROUP BY g ORDER BY g;
SELECT i, avg(v) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
FROM (VALUES (1, '[2,4]'::vector), (2, '[4,8]'), (3, '[0,0]')) AS t(i, v)
ORDER BY i;

-- State functions called directly.
SELECT vector_accum('{0}', '[1,2,3]');
SELECT vector_accum('{5}', '[1,2,3]');
SELECT vector_accum('{1,1,2,3}', '[1,2,3]');
SELECT vector_accum('{0,0,0,0}', '[1,2,3]');
SELECT vector_accum('{0,0}', '[1,2,3]');
SELECT vector_accum('{{0}}', '[1,2,3]');
SELECT vector_accum('{NULL}', '[1,2,3]');
SELECT vector_accum('{}', '[1,2,3]');

SELECT vector_combine('{1,2}', '{3,4}');
SELECT vector_combine('{0}', '{2,4,6}');
SELECT vector_combine('{2,4,6}', '{0}');
SELECT vector_combine('{0}', '{0}');
SELECT vector_combine('{1,2,3}', '{1,2}');
SELECT vector_combine('{1,1e308}', '{1,1e308}');
SELECT vector_combine('{{1,2}}', '{3,4}');
SELECT vector_combine('{1,2}', '{{3,4}}');
SELECT vector_combine('{NULL,2}', '{3,4}');
SELECT vector_combine('{1,2}', '{3,NULL}');
SELECT vector_combine('{}', '{0}');
SELECT vector_combine('{0}', '{}');
SELECT vector_combine('{0}', (SELECT array_agg(n) FROM generate_series(1, 16002) n));
SELECT vector_combine((SELECT array_agg(n) FROM generate_series(1, 16002) n), '{0}');

SELECT vector_avg('{2,2,4,6}');
SELECT vector_avg('{0}');
SELECT vector_avg('{1}');
SELECT vector_avg('{1,1e300}');
SELECT vector_avg('{{2,2,4,6}}');
SELECT vector_avg('{NULL,2,4,6}');
SELECT vector_avg('{}');
SELECT vector_avg(array_agg(n)) FROM generate_series(1, 16002) n;

-- Both aggregates are parallel safe with combine functions, so a parallel
-- plan gives the same result as a serial one.
SELECT aggfnoid::regprocedure, aggcombinefn, proparallel
FROM pg_aggregate JOIN pg_proc ON aggfnoid = pg_proc.oid
WHERE aggfnoid::regprocedure::text IN ('avg(vector)', 'sum(vector)')
ORDER BY aggfnoid::regprocedure::text;

CREATE TABLE many (v vector(3));
INSERT INTO many
SELECT ARRAY[i % 10, (i % 7) * 0.5, -(i % 3)]::vector(3) FROM generate_series(1, 30000) AS i;
ANALYZE many;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM many;
SELECT avg(v), sum(v) FROM many;
SET max_parallel_workers_per_gather = 0;
SELECT avg(v), sum(v) FROM many;
RESET ALL;
DROP TABLE many;
