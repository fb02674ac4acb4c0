-- Errors of pca_fit, pca_project and the pca type, each shown with its SQLSTATE.
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE query;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TEMP TABLE two_rows (v vector);
INSERT INTO two_rows VALUES ('[1,2]'), ('[3,4]');
CREATE TEMP VIEW two_row_model AS SELECT pca_fit(v, 1) AS model FROM two_rows;

-- n_components out of range (22023), NULL (22004), changing between rows (22023)
SELECT pg_temp.error_of($$SELECT pca_fit(v, 0) FROM two_rows$$);
SELECT pg_temp.error_of($$SELECT pca_fit(v, -5) FROM two_rows$$);
SELECT pg_temp.error_of($$SELECT pca_fit(v, 3) FROM two_rows$$);
SELECT pg_temp.error_of($$SELECT pca_fit(v, 3) FROM (VALUES ('[1,2,3]'::vector), ('[3,4,5]')) t(v)$$);
SELECT pg_temp.error_of($$SELECT pca_fit(v, NULL) FROM two_rows$$);
SELECT pg_temp.error_of($$SELECT pca_fit(v, n) FROM (VALUES ('[1,2]'::vector, 1), ('[3,4]', 2)) t(v, n)$$);

-- mixed dimensions and fewer than two rows (22000)
SELECT pg_temp.error_of($$SELECT pca_fit(v, 1) FROM (VALUES ('[1,2]'::vector), ('[3,4,5]')) t(v)$$);
SELECT pg_temp.error_of($$SELECT pca_fit(v, 1) FROM (VALUES ('[1,2]'::vector)) t(v)$$);
SELECT pg_temp.error_of($$SELECT pca_fit(v, 1) FROM (VALUES ('[1,2]'::vector), (NULL)) t(v)$$);

-- projection with the wrong dimension count (22000)
SELECT pg_temp.error_of($$SELECT pca_project(model, '[1,2,3]'::vector) FROM two_row_model$$);
SELECT pg_temp.error_of($$SELECT pca_project(model, ARRAY['[1,2]', '[1,2,3]']::vector[]) FROM two_row_model$$);
SELECT pg_temp.error_of($$SELECT pca_project(model, '{{"[1,2]"},{"[1,2]"}}'::vector[]) FROM two_row_model$$);

-- malformed text (22P02), out-of-range numbers (22003), invalid fields (22000),
-- an unknown text version (0A000)
SELECT pg_temp.error_of($$SELECT 'nonsense'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":2,"mean":[1],"explained_variance":[1.5],"components":[[1,0]]}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":2,"mean":[1,2],"explained_variance":[1.5],"components":[[1,0]]} x'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":2,"mean":[1,2],"explained_variance":[1.5],"components":[[1,0,3]]}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":2,"mean":[1,1e999],"explained_variance":[1.5],"components":[[1,0]]}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":3,"rows":3,"total_variance":2,"mean":[1,2],"explained_variance":[1.5],"components":[[1,0]]}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":0,"n_components":1}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":1,"rows":1,"total_variance":2,"mean":[1,2],"explained_variance":[1.5],"components":[[1,0]]}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":2,"mean":[1,2],"explained_variance":[-1],"components":[[1,0]]}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":2,"rows":3,"total_variance":2,"mean":[1,2],"explained_variance":[1,2],"components":[[1,0],[0,1]]}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":2,"mean":[1,2],"explained_variance":[1.5],"components":[[1,nan]]}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":-2,"mean":[1,2],"explained_variance":[1.5],"components":[[1,0]]}'::pca$$);
SELECT pg_temp.error_of($$SELECT '{"version":2,"dims":2}'::pca$$);

