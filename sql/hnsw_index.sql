-- The hnsw access method: operator classes, plans, NULLs, zero vectors,
-- dimension checks, duplicates, filtering and REINDEX.
CREATE TABLE hnsw_t (id int, v vector(3));
INSERT INTO hnsw_t
  SELECT i, format('[%s,%s,%s]', sin(i), cos(i), sin(i * 0.5))::vector FROM generate_series(1, 1000) i;
INSERT INTO hnsw_t VALUES (1001, NULL), (1002, '[0,0,0]');

CREATE INDEX hnsw_l2 ON hnsw_t USING hnsw (v vector_l2_ops);
CREATE INDEX hnsw_ip ON hnsw_t USING hnsw (v vector_ip_ops);
CREATE INDEX hnsw_cos ON hnsw_t USING hnsw (v vector_cosine_ops);
CREATE INDEX hnsw_l1 ON hnsw_t USING hnsw (v vector_l1_ops);
SELECT similarity.hnsw_verify('hnsw_l2'), similarity.hnsw_verify('hnsw_ip'),
       similarity.hnsw_verify('hnsw_cos'), similarity.hnsw_verify('hnsw_l1');
ANALYZE hnsw_t;

-- Each operator uses its index.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t ORDER BY v <-> '[1,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t ORDER BY v <#> '[1,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t ORDER BY v <=> '[1,0,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t ORDER BY v <+> '[1,0,0]' LIMIT 5;
-- Without ORDER BY the index is never used.
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_t WHERE v IS NOT NULL;

-- Index results equal the exact order on this small, well-separated set.
CREATE TEMP TABLE hnsw_q AS SELECT '[0.3,0.9,-0.2]'::vector AS q;
SELECT id, round((v <-> q)::numeric, 6) FROM hnsw_t, hnsw_q ORDER BY v <-> q LIMIT 5;
SELECT id, round((v <#> q)::numeric, 6) FROM hnsw_t, hnsw_q ORDER BY v <#> q LIMIT 5;
SELECT id, round((v <=> q)::numeric, 6) FROM hnsw_t, hnsw_q ORDER BY v <=> q LIMIT 5;
SELECT id, round((v <+> q)::numeric, 6) FROM hnsw_t, hnsw_q ORDER BY v <+> q LIMIT 5;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT id, round((v <-> q)::numeric, 6) FROM hnsw_t, hnsw_q ORDER BY v <-> q LIMIT 5;
SELECT id, round((v <=> q)::numeric, 6) FROM hnsw_t, hnsw_q ORDER BY v <=> q LIMIT 5;
RESET enable_indexscan;
SET enable_seqscan = off;

-- NULLs are not indexed; the zero vector is not indexed for cosine.
SELECT count(*) FROM (SELECT id FROM hnsw_t ORDER BY v <-> '[1,0,0]' LIMIT 2000) s;
SELECT count(*) FROM (SELECT id FROM hnsw_t ORDER BY v <=> '[1,0,0]' LIMIT 2000) s;
-- A NULL or zero query has no distances: every indexed row comes back.
SELECT count(*) FROM (SELECT id FROM hnsw_t ORDER BY v <-> NULL LIMIT 2000) s;
SELECT count(*) FROM (SELECT id FROM hnsw_t ORDER BY v <=> '[0,0,0]' LIMIT 2000) s;

-- A query of other dimensions is an error.
SELECT id FROM hnsw_t ORDER BY v <-> '[1,0]' LIMIT 1;
INSERT INTO hnsw_t VALUES (2000, '[1,2]');

-- Filtering: the scan widens until LIMIT is met.
SELECT count(*) FROM (SELECT id FROM hnsw_t WHERE id % 50 = 0 ORDER BY v <-> '[1,0,0]' LIMIT 15) s;
SELECT count(*) FROM (SELECT id FROM hnsw_t WHERE v <-> '[1,0,0]' > 1.8 ORDER BY v <-> '[1,0,0]' LIMIT 15) s;
-- With the bound at 1, only the first round runs, and its rows are all near.
SET hnsw.max_scan_tuples = 1;
SELECT count(*) FROM (SELECT id FROM hnsw_t WHERE v <-> '[1,0,0]' > 1.8 ORDER BY v <-> '[1,0,0]' LIMIT 15) s;
RESET hnsw.max_scan_tuples;

-- Duplicates: many identical vectors, inserted before and after the build.
CREATE TABLE hnsw_dup (id int, v vector(2));
INSERT INTO hnsw_dup SELECT i, '[1,1]' FROM generate_series(1, 100) i;
CREATE INDEX hnsw_dup_l2 ON hnsw_dup USING hnsw (v);
INSERT INTO hnsw_dup SELECT i, '[1,1]' FROM generate_series(101, 200) i;
INSERT INTO hnsw_dup SELECT i, format('[%s,%s]', i, 0)::vector FROM generate_series(201, 250) i;
SELECT similarity.hnsw_verify('hnsw_dup_l2');
SELECT count(*) FROM (SELECT id FROM hnsw_dup ORDER BY v <-> '[1,1]' LIMIT 200) s;

-- Inserts after the build, deletes and VACUUM keep the graph valid.
INSERT INTO hnsw_t
  SELECT i, format('[%s,%s,%s]', sin(i), cos(i), sin(i * 0.5))::vector FROM generate_series(1003, 1500) i;
DELETE FROM hnsw_t WHERE id % 3 = 0;
VACUUM hnsw_t;
SELECT similarity.hnsw_verify('hnsw_l2'), similarity.hnsw_verify('hnsw_cos');
SELECT count(*) FROM (SELECT id FROM hnsw_t ORDER BY v <-> '[1,0,0]' LIMIT 2000) s;
SELECT count(*) FROM (SELECT id FROM hnsw_t WHERE id % 3 = 0 ORDER BY v <-> '[1,0,0]' LIMIT 5) s;

-- REINDEX rebuilds from the table.
REINDEX INDEX hnsw_l2;
SELECT similarity.hnsw_verify('hnsw_l2');
SELECT count(*) FROM (SELECT id FROM hnsw_t ORDER BY v <-> '[1,0,0]' LIMIT 2000) s;

-- Unlogged tables get an init fork.
CREATE UNLOGGED TABLE hnsw_unlogged (v vector(2));
CREATE INDEX ON hnsw_unlogged USING hnsw (v);
INSERT INTO hnsw_unlogged VALUES ('[1,2]'), ('[3,4]');
SELECT v FROM hnsw_unlogged ORDER BY v <-> '[3,3]' LIMIT 1;

-- hnsw_verify rejects other relations.
SELECT similarity.hnsw_verify('hnsw_t');

RESET enable_seqscan;
DROP TABLE hnsw_t, hnsw_dup, hnsw_unlogged;
