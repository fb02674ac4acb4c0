-- pca_project(pca, vector[]): NULL elements, shapes, errors, and agreement
-- with the per-row form.  The array form runs one matrix product over all
-- vectors and, unless the mean is far from the origin, subtracts
-- components · mean afterwards, while the per-row form centres each vector
-- first.  So the two agree to single-precision rounding, not bit for bit.
SET extra_float_digits = 0;
CREATE TABLE pa_rows (id int, v vector(3));
INSERT INTO pa_rows VALUES
	(1, '[0,0,5]'), (2, '[2,1,5]'), (3, '[4,2,5]'), (4, '[6,3,5]'), (5, '[3,2,5]');
CREATE TABLE pa_model AS SELECT pca_fit(v, 2) AS model FROM pa_rows;

-- Largest absolute difference between the elements of two vectors.
CREATE FUNCTION pg_temp.max_diff(a vector, b vector) RETURNS float8
	LANGUAGE sql AS $$ SELECT max(abs(x - y)) FROM unnest(a::real[], b::real[]) AS t(x, y) $$;

-- Each element of vs, projected as an array, next to its per-row projection.
CREATE FUNCTION pg_temp.compare(vs vector[])
	RETURNS TABLE (i bigint, both_null boolean, close boolean)
	LANGUAGE sql AS $$
	SELECT u.i, u.p IS NULL AND pca_project(m.model, u.v) IS NULL,
		   pg_temp.max_diff(u.p, pca_project(m.model, u.v)) <= 1e-5
	FROM pa_model m,
		 unnest(vs, pca_project((SELECT model FROM pa_model), vs)) WITH ORDINALITY AS u(v, p, i)
	ORDER BY u.i $$;

SELECT * FROM pg_temp.compare((SELECT array_agg(v ORDER BY id) FROM pa_rows));

-- The values, rounded so that the output does not depend on the BLAS kernel.
SELECT i, (SELECT array_agg(round(x::numeric, 5)) FROM unnest(p::real[]) AS x) AS rounded
FROM unnest(pca_project((SELECT model FROM pa_model),
						(SELECT array_agg(v ORDER BY id) FROM pa_rows))) WITH ORDINALITY AS u(p, i);

-- One element.
SELECT * FROM pg_temp.compare(ARRAY['[1,1,1]']::vector[]);
SELECT cardinality(pca_project((SELECT model FROM pa_model), ARRAY['[1,1,1]']::vector[]));

-- NULL elements stay NULL, wherever they are.
SELECT * FROM pg_temp.compare(ARRAY[NULL, '[1,1,1]', NULL, '[0,0,5]', NULL]::vector[]);
SELECT pca_project((SELECT model FROM pa_model), ARRAY[NULL, NULL]::vector[]);

-- Empty arrays, and a NULL array (the function is strict).
SELECT pca_project((SELECT model FROM pa_model), '{}'::vector[]);
SELECT pca_project((SELECT model FROM pa_model), NULL::vector[]) IS NULL AS is_null;

-- The lower bound is kept.
SELECT array_lower(p, 1), array_upper(p, 1), vector_dims(p[0]), vector_dims(p[1])
FROM pca_project((SELECT model FROM pa_model), '[0:1]={"[1,1,1]","[0,0,5]"}'::vector[]) AS p;

-- Exact when every product and sum is exact: [3,7] - [1,0.5] onto [1,0].
SELECT pca_project('{"version":1,"dims":2,"n_components":1,"rows":3,"total_variance":2,"mean":[1,0.5],"explained_variance":[1.5],"components":[[1,0]]}'::pca,
				   ARRAY['[3,7]', NULL, '[1,0.5]']::vector[]);

-- More vectors than one matrix product takes (1024), with NULLs among them.
CREATE TABLE pa_many AS
	SELECT i, CASE WHEN i % 97 = 0 THEN NULL
				   ELSE format('[%s,%s,%s]', i % 13, (i * 7) % 11, 5 + i % 3)::vector END AS v
	FROM generate_series(1, 2500) AS i;
SELECT count(*) AS elements, count(*) FILTER (WHERE both_null) AS nulls,
	   count(*) FILTER (WHERE close) AS close
FROM pg_temp.compare((SELECT array_agg(v ORDER BY i) FROM pa_many));

-- A mean far from the origin compared to the spread: the array form centres
-- the vectors first, as the per-row form does.
CREATE TABLE pa_far AS SELECT id, (v::real[] || ARRAY[1000, 2000]::real[])::vector AS v FROM pa_rows;
INSERT INTO pa_far VALUES (6, '[1,2,3,1000,2000]');
UPDATE pa_model SET model = (SELECT pca_fit(v, 2) FROM pa_far);
SELECT * FROM pg_temp.compare((SELECT array_agg(v ORDER BY id) FROM pa_far));
UPDATE pa_model SET model = (SELECT pca_fit(v, 2) FROM pa_rows);

-- Errors, each with its SQLSTATE.
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE query;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.error_of($$SELECT pca_project(model, ARRAY['[1,2,3]', '[1,2]']::vector[]) FROM pa_model$$);
SELECT pg_temp.error_of($$SELECT pca_project(model, ARRAY['[1,2,3]', NULL, '[1,2,3,4]']::vector[]) FROM pa_model$$);
SELECT pg_temp.error_of($$SELECT pca_project(model, ARRAY['[1,2]']::vector[]) FROM pa_model$$);
SELECT pg_temp.error_of($$SELECT pca_project(model, '{{"[1,2,3]"},{"[1,2,3]"}}'::vector[]) FROM pa_model$$);
