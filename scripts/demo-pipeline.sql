-- The demo's pipeline, run by scripts/demo with psql after the photos are in
-- similarity_demo.products.  psql variables (scripts/demo sets them):
--   model         registered model name, e.g. vgg16 or mobilenet_v2
--   batch_size    images per embedding call
--   pca_dims      dimensions after PCA, or 0 to choose from the model output
--   k             matches per query
--   queries       number of query products
--   matches_file  where to write the matches for the contact sheet
\set ON_ERROR_STOP on
\pset footer off

\echo
\echo '== model'
SELECT info ->> 'name' AS name, info ->> 'weights' AS weights,
       info ->> 'output_dim' AS output_dim, info ->> 'device' AS device,
       info ->> 'version' AS version
FROM similarity_model_info(:'model') AS info;

\echo
\echo '== embedding the photos (one model call per batch, committed batch by batch)'
CALL similarity.reembed('similarity_demo.products', 'photo', 'features',
                        model => :'model', batch_size => :batch_size);

SELECT state, rows_embedded, rows_failed, rows_null_image, rows_per_second
FROM similarity.reembed_status
WHERE relation = 'similarity_demo.products'::regclass
ORDER BY run_id DESC LIMIT 1;

\echo
\echo '== PCA: fit on a sample, project every photo'
-- 256 dimensions for VGG16's 4096, 128 for smaller outputs, and never more
-- than half the number of photos or the model's own output size, so small
-- photo sets and small models still fit.
SELECT CASE WHEN :pca_dims > 0 THEN :pca_dims
            ELSE least(CASE WHEN max(vector_dims(features)) >= 4096 THEN 256 ELSE 128 END,
                       greatest(2, count(features) / 2)::integer,
                       max(vector_dims(features)))
       END AS pca_dims,
       least(count(features), 5000) AS pca_sample
FROM similarity_demo.products \gset

CREATE TABLE similarity_demo.product_pca AS
SELECT pca_fit(features, :pca_dims) AS pca
FROM (SELECT features FROM similarity_demo.products
      WHERE features IS NOT NULL
      ORDER BY md5(id::text)
      LIMIT :pca_sample) AS sample;

ALTER TABLE similarity_demo.products ADD COLUMN embedding vector(:pca_dims);

UPDATE similarity_demo.products
SET embedding = pca_project((SELECT pca FROM similarity_demo.product_pca), features)
WHERE features IS NOT NULL;

SELECT :pca_sample AS photos_in_sample,
       max(vector_dims(features)) AS dims_before,
       max(vector_dims(embedding)) AS dims_after
FROM similarity_demo.products;

\echo
\echo '== index'
SELECT EXISTS (SELECT FROM pg_am WHERE amname = 'hnsw') AS have_hnsw \gset
\if :have_hnsw
CREATE INDEX products_embedding_idx ON similarity_demo.products
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
SET hnsw.ef_search = 64;
-- For a table this small the planner estimates that a sequential scan and
-- sort is cheaper than the index, so turn sequential scans off to send the
-- queries below through the index.
SET enable_seqscan = off;
\echo 'built an hnsw index (m = 16, ef_construction = 64); queries use it'
\else
\echo 'the hnsw access method is not installed: queries scan the table exactly'
\endif
ANALYZE similarity_demo.products;

\echo
\echo '== more like this: the nearest photos to a few query products'
-- One query per category: a shop photo rather than a catalogue shot
-- ("*_Iconic.*"), because catalogue shots on white backgrounds mostly match
-- each other.
CREATE TABLE similarity_demo.queries AS
SELECT id FROM (
    SELECT DISTINCT ON (category) id, category
    FROM similarity_demo.products
    WHERE embedding IS NOT NULL
    ORDER BY category, (path LIKE '%\_Iconic.%'), md5(path)
) AS per_category
ORDER BY md5(category)
LIMIT :queries;

-- How PostgreSQL runs one such query: an index scan when hnsw is installed.
EXPLAIN (COSTS OFF)
SELECT id, category
FROM similarity_demo.products
ORDER BY embedding <=> (SELECT embedding FROM similarity_demo.products
                        WHERE id = (SELECT min(id) FROM similarity_demo.queries))
LIMIT :k;

CREATE TABLE similarity_demo.matches AS
SELECT q.id AS query_id, q.path AS query_path, q.category AS query_category,
       m.rank, m.id AS match_id, m.path AS match_path, m.category AS match_category,
       m.distance
FROM similarity_demo.products AS q
JOIN similarity_demo.queries USING (id)
CROSS JOIN LATERAL (
    SELECT nearest.*, row_number() OVER (ORDER BY nearest.distance) AS rank
    FROM (SELECT p.id, p.path, p.category, p.embedding <=> q.embedding AS distance
          FROM similarity_demo.products AS p
          WHERE p.id <> q.id AND p.embedding IS NOT NULL
          ORDER BY p.embedding <=> q.embedding
          LIMIT :k) AS nearest
) AS m;

SELECT query_id AS query, query_category, rank, match_category,
       round(distance::numeric, 4) AS distance,
       CASE WHEN match_category = query_category THEN 'yes' ELSE 'no' END AS same_category,
       regexp_replace(match_path, '^.*/', '') AS match_file
FROM similarity_demo.matches
ORDER BY query_id, rank;

\o :matches_file
COPY (SELECT query_id, query_path, query_category, rank, match_path, match_category,
             round(distance::numeric, 4)
      FROM similarity_demo.matches ORDER BY query_id, rank)
TO STDOUT;
\o

\echo
\echo '== precision: every photo as a query, leaving itself out'
-- precision@1: the share of photos whose nearest other photo has the same
-- category; precision@k: the share of same-category photos among the k
-- nearest.
CREATE FUNCTION similarity_demo.precision_at(k integer)
RETURNS TABLE (photos bigint, precision_at_1 numeric, precision_at_k numeric)
LANGUAGE sql STABLE
AS $$
    SELECT count(DISTINCT p.id),
           round(avg((n.category = p.category)::integer) FILTER (WHERE n.rank = 1), 3),
           round(avg((n.category = p.category)::integer), 3)
    FROM similarity_demo.products AS p
    CROSS JOIN LATERAL (
        SELECT nearest.category, row_number() OVER (ORDER BY nearest.distance) AS rank
        FROM (SELECT o.category, o.embedding <=> p.embedding AS distance
              FROM similarity_demo.products AS o
              WHERE o.id <> p.id AND o.embedding IS NOT NULL
              ORDER BY o.embedding <=> p.embedding
              LIMIT k) AS nearest
    ) AS n
    WHERE p.embedding IS NOT NULL
$$;

CREATE TABLE similarity_demo.precision (search text, photos bigint, k integer,
                                        precision_at_1 numeric, precision_at_k numeric);
\if :have_hnsw
INSERT INTO similarity_demo.precision
SELECT 'hnsw index', photos, :k, precision_at_1, precision_at_k
FROM similarity_demo.precision_at(:k);
\endif
-- The exact result, for comparison: no index, every distance computed.
SET enable_seqscan = on;
SET enable_indexscan = off;
INSERT INTO similarity_demo.precision
SELECT 'exact scan', photos, :k, precision_at_1, precision_at_k
FROM similarity_demo.precision_at(:k);
RESET enable_indexscan;

SELECT * FROM similarity_demo.precision;
