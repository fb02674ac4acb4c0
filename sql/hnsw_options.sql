-- Options of hnsw indexes and the hnsw.* settings, at their boundaries.
CREATE TABLE hnsw_opt (v vector(3));

CREATE INDEX ON hnsw_opt USING hnsw (v) WITH (m = 1);
CREATE INDEX ON hnsw_opt USING hnsw (v) WITH (m = 101);
CREATE INDEX ON hnsw_opt USING hnsw (v) WITH (ef_construction = 3);
CREATE INDEX ON hnsw_opt USING hnsw (v) WITH (ef_construction = 1001);
CREATE INDEX ON hnsw_opt USING hnsw (v) WITH (m = 40, ef_construction = 79);
CREATE INDEX ON hnsw_opt USING hnsw (v) WITH (m = 16, ef_construction = 31);
CREATE INDEX ON hnsw_opt USING hnsw (v) WITH (unknown = 1);
CREATE INDEX hnsw_opt_min ON hnsw_opt USING hnsw (v) WITH (m = 2, ef_construction = 4);
CREATE INDEX hnsw_opt_max ON hnsw_opt USING hnsw (v) WITH (m = 100, ef_construction = 1000);
INSERT INTO hnsw_opt SELECT format('[%s,%s,%s]', i, i % 7, i % 3)::vector FROM generate_series(1, 300) i;
SELECT similarity.hnsw_verify('hnsw_opt_min'), similarity.hnsw_verify('hnsw_opt_max');
ALTER INDEX hnsw_opt_min SET (m = 3);
SELECT reloptions FROM pg_class WHERE relname = 'hnsw_opt_min';

-- A column without dimensions cannot be indexed.
CREATE TABLE hnsw_nodims (v vector);
CREATE INDEX ON hnsw_nodims USING hnsw (v);

-- Settings
SHOW hnsw.ef_search;
SET hnsw.ef_search = 0;
SET hnsw.ef_search = 1001;
SET hnsw.ef_search = 1;
SET hnsw.ef_search = 1000;
SHOW hnsw.ef_search;
BEGIN;
SET LOCAL hnsw.ef_search = 77;
SHOW hnsw.ef_search;
COMMIT;
SHOW hnsw.ef_search;
RESET hnsw.ef_search;
SET hnsw.max_scan_tuples = 0;
SET hnsw.max_scan_tuples = 1;
SET hnsw.unknown_setting = 1;

DROP TABLE hnsw_opt, hnsw_nodims;
