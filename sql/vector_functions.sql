-- Distance functions, norms and the other functions of one or two vectors.
CREATE FUNCTION pg_temp.try(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE statement;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- L2 distance.
SELECT l2_distance('[0,0]'::vector, '[3,4]');
SELECT l2_distance('[0,0]'::vector, '[0,1]');
SELECT l2_distance('[3e38]'::vector, '[-3e38]');
SELECT l2_distance('[1,1,1,1,1,1,1,1,1]'::vector, '[1,1,1,1,1,1,1,4,5]');
SELECT '[0,0]'::vector <-> '[3,4]';
SELECT vector_l2_squared_distance('[0,0]'::vector, '[3,4]');

-- Inner product; <#> is its negative.
SELECT inner_product('[1,2]'::vector, '[3,4]');
SELECT inner_product('[3e38]'::vector, '[3e38]');
SELECT inner_product('[1,1,1,1,1,1,1,1,1]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT '[1,2]'::vector <#> '[3,4]';
SELECT vector_negative_inner_product('[1,2]'::vector, '[3,4]');

-- Cosine distance: NaN for a zero vector, clamped to [0, 2].
SELECT cosine_distance('[1,2]'::vector, '[2,4]');
SELECT cosine_distance('[1,2]'::vector, '[0,0]');
SELECT cosine_distance('[0,0]'::vector, '[0,0]');
SELECT cosine_distance('[1,1]'::vector, '[1,1]');
SELECT cosine_distance('[1,0]'::vector, '[0,2]');
SELECT cosine_distance('[1,1]'::vector, '[-1,-1]');
SELECT cosine_distance('[1,1]'::vector, '[1.1,1.1]');
SELECT cosine_distance('[1,1]'::vector, '[-1.1,-1.1]');
SELECT cosine_distance('[3e38]'::vector, '[3e38]');
SELECT cosine_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT cosine_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[-1,-2,-3,-4,-5,-6,-7,-8,-9]');
SELECT '[1,2]'::vector <=> '[2,4]';

-- L1 distance.
SELECT l1_distance('[0,0]'::vector, '[3,4]');
SELECT l1_distance('[0,0]'::vector, '[0,1]');
SELECT l1_distance('[3e38]'::vector, '[-3e38]');
SELECT l1_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT l1_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[0,3,2,5,4,7,6,9,8]');
SELECT '[0,0]'::vector <+> '[3,4]';

-- Distances at sizes that use full SIMD blocks and tails agree with a
-- plain SQL computation in double precision.
SELECT n,
	   abs(l2_distance(a, b) - sqrt(sum_sq)) < 1e-6 * sqrt(sum_sq) AS l2_ok,
	   abs(inner_product(a, b) - dot) < 1e-6 * abs_dot AS ip_ok,
	   abs(l1_distance(a, b) - l1) < 1e-6 * l1 AS l1_ok,
	   abs(cosine_distance(a, b) - (1 - dot / sqrt(norm_a * norm_b)))
		 < 3e-6 * abs_dot / sqrt(norm_a * norm_b) AS cosine_ok,
	   abs(vector_norm(a) - sqrt(norm_a)) < 1e-6 * sqrt(norm_a) AS norm_ok
FROM (
	SELECT n, array_agg(x ORDER BY i)::vector AS a, array_agg(y ORDER BY i)::vector AS b,
		   sum((x - y) ^ 2) AS sum_sq, sum(x * y) AS dot, sum(abs(x * y)) AS abs_dot,
		   sum(abs(x - y)) AS l1, sum(x * x) AS norm_a, sum(y * y) AS norm_b
	FROM unnest(ARRAY[1, 7, 15, 16, 17, 63, 64, 65, 255, 513, 1000, 4100]) AS n,
		 LATERAL (SELECT i, sin(i * 1.7 + n)::real::float8 AS x,
						 cos(i * 0.3 - n)::real::float8 AS y
				  FROM generate_series(1, n) AS i) AS v
	GROUP BY n
) AS data
ORDER BY n;

-- Dimension mismatches, with SQLSTATEs.
SELECT input, pg_temp.try(format('SELECT %s', input)) AS result
FROM (VALUES ('l2_distance(''[1,2]''::vector, ''[3]'')'),
			 ('inner_product(''[1,2]''::vector, ''[3]'')'),
			 ('cosine_distance(''[1,2]''::vector, ''[3]'')'),
			 ('l1_distance(''[1,2]''::vector, ''[3]'')'),
			 ('''[1,2]''::vector <-> ''[3]'''),
			 ('''[1,2]''::vector <#> ''[3]'''),
			 ('''[1,2]''::vector <=> ''[3]'''),
			 ('''[1,2]''::vector <+> ''[3]'''),
			 ('''[1,2]''::vector + ''[3]'''),
			 ('''[1,2]''::vector - ''[3]'''),
			 ('''[1,2]''::vector * ''[3]''')) AS cases(input);

-- Dimensions and norm.
SELECT vector_dims('[1,2,3]'::vector);
SELECT round(vector_norm('[1,1]')::numeric, 5);
SELECT vector_norm('[3,4]');
SELECT vector_norm('[0,1]');
SELECT vector_norm('[3e37,4e37]')::real;
SELECT vector_norm('[0,0]');
SELECT vector_norm('[2]');

-- Normalisation: a zero vector stays zero.
SELECT l2_normalize('[3,4]'::vector);
SELECT l2_normalize('[3,0]'::vector);
SELECT l2_normalize('[0,0.1]'::vector);
SELECT l2_normalize('[0,0]'::vector);
SELECT l2_normalize('[3e38]'::vector);
SELECT l2_normalize('[1e-40]'::vector);
SELECT round(vector_norm(l2_normalize('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]'))::numeric, 6);

-- Element-wise arithmetic; overflow and underflow raise errors.
SELECT '[1,2,3]'::vector + '[4,5,6]';
SELECT '[1,2,3]'::vector - '[4,5,6]';
SELECT '[1,2,3]'::vector * '[4,5,6]';
SELECT '[1,-2,0]'::vector * '[0,3,-1]';
\set VERBOSITY sqlstate
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1e37]'::vector * '[1e37]';
SELECT '[1e-37]'::vector * '[1e-37]';
\set VERBOSITY default
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1e37]'::vector * '[1e37]';
SELECT '[1e-37]'::vector * '[1e-37]';

-- Concatenation, up to 16000 dimensions.
SELECT '[1,2,3]'::vector || '[4,5]';
SELECT vector_dims(array_fill(0, ARRAY[15999])::vector || '[1]');
SELECT array_fill(0, ARRAY[16000])::vector || '[1]';

-- subvector(v, start, count), 1-based and clipped like substring().
SELECT subvector('[1,2,3,4,5]'::vector, 1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 9);
SELECT subvector('[1,2,3,4,5]'::vector, 5, 1);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483644, 2147483647);
SELECT input, pg_temp.try(format('SELECT %s', input)) AS result
FROM (VALUES ('subvector(''[1,2,3,4,5]''::vector, 1, 0)'),
			 ('subvector(''[1,2,3,4,5]''::vector, 3, -1)'),
			 ('subvector(''[1,2,3,4,5]''::vector, -1, 2)'),
			 ('subvector(''[1,2,3,4,5]''::vector, 6, 1)'),
			 ('subvector(''[1,2,3,4,5]''::vector, 2147483647, 10)')) AS cases(input);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2147483647);

-- binary_quantize: 1 for each positive element.
SELECT binary_quantize('[1,0,-1]'::vector);
SELECT binary_quantize('[0,0.1,-0.2,-0.3,0.4,0.5,0.6,-0.7,0.8,-0.9,1]'::vector);
SELECT binary_quantize('[1,2,3,-4,5,6,-7,8,1,-2,-3,4,5,-6,7,8,-1,2,3]'::vector);
SELECT length(binary_quantize(array_fill(1, ARRAY[16000])::vector));

-- Functions and operators are strict: NULL in, NULL out.
SELECT l2_distance(NULL, '[1]'), '[1]'::vector <=> NULL, vector_dims(NULL),
	   l2_normalize(NULL) IS NULL, subvector('[1]', NULL, 1) IS NULL;
