-- pca type, pca_fit, accessors and pca_project on small exact data.
SET extra_float_digits = 0;

CREATE TABLE pca_rows (id int, v vector(3));
-- Points on the line x = 2t, y = t, z = 5 plus one off-line point.
INSERT INTO pca_rows VALUES
	(1, '[0,0,5]'), (2, '[2,1,5]'), (3, '[4,2,5]'), (4, '[6,3,5]'), (5, '[3,2,5]');

CREATE TABLE pca_models AS SELECT pca_fit(v, 2) AS model FROM pca_rows;

SELECT pca_dims(model), pca_n_components(model) FROM pca_models;
SELECT pca_mean(model) FROM pca_models;
SELECT round(x::numeric, 6) FROM pca_models, unnest(pca_explained_variance(model)) AS x;
SELECT round(x::numeric, 6) FROM pca_models, unnest(pca_explained_variance_ratio(model)) AS x;
SELECT round(sum(x)::numeric, 6) AS ratio_sum FROM pca_models, unnest(pca_explained_variance_ratio(model)) AS x;
-- Components are unit vectors; the largest-magnitude loading is positive.
SELECT i, round(vector_norm(c)::numeric, 5) AS norm FROM pca_models,
	unnest(pca_components(model)) WITH ORDINALITY AS t(c, i);
SELECT (pca_components(model))[1] FROM pca_models;

-- Projection per row.  pca_project_array tests the array form.
SELECT id, pca_project((SELECT model FROM pca_models), v) FROM pca_rows ORDER BY id;

-- NULL vectors are skipped; no rows at all gives NULL.
SELECT pca_n_components(pca_fit(v, 1)) FROM (SELECT v FROM pca_rows UNION ALL SELECT NULL) s;
SELECT pca_fit(v, 1) IS NULL AS is_null FROM pca_rows WHERE false;

-- Text and binary round trips keep every bit.
SELECT model::text::pca::text = model::text AS text_round_trip FROM pca_models;
SELECT pca_recv_ok FROM (SELECT pca_send(model) = pca_send(model::text::pca) AS pca_recv_ok FROM pca_models) s;
CREATE TEMP TABLE pca_copy (model pca);
COPY pca_models TO '/tmp/pca_basics_copy.bin' WITH (FORMAT binary);
COPY pca_copy FROM '/tmp/pca_basics_copy.bin' WITH (FORMAT binary);
SELECT pca_send(c.model) = pca_send(m.model) AS binary_copy_round_trip FROM pca_copy c, pca_models m;
TRUNCATE pca_copy;
COPY pca_models TO '/tmp/pca_basics_copy.txt';
COPY pca_copy FROM '/tmp/pca_basics_copy.txt';
SELECT pca_send(c.model) = pca_send(m.model) AS text_copy_round_trip FROM pca_copy c, pca_models m;

-- A literal model in the text form.
SELECT '{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":2,"mean":[1,0.5],"explained_variance":[1.5],"components":[[1,0]]}'::pca;
SELECT pca_project('{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":2,"mean":[1,0.5],"explained_variance":[1.5],"components":[[1,0]]}'::pca, '[3,7]'::vector);

-- Zero-variance dimensions are fine.
SELECT pca_explained_variance(pca_fit(v, 2)) FROM (VALUES ('[1,0,0]'::vector), ('[3,0,0]'), ('[5,0,0]')) t(v);

DROP TABLE pca_rows, pca_models;

-- One model per group.
SELECT g, pca_n_components(pca_fit(v, 1)), pca_mean(pca_fit(v, 1))
FROM (VALUES (1, '[1,2]'::vector), (1, '[3,4]'), (2, '[0,0]'), (2, '[0,2]'), (2, '[0,4]')) t(g, v)
GROUP BY g ORDER BY g;
