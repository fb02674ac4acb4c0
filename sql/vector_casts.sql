-- Casts between vector and arrays.
CREATE FUNCTION pg_temp.try(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE statement;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- From integer[], numeric[], real[] and double precision[].
SELECT ARRAY[1,2,3]::vector;
SELECT ARRAY[1.0,2.5,-3.25]::vector;
SELECT ARRAY[1,2,3]::real[]::vector;
SELECT ARRAY[1,2,3]::double precision[]::vector;
SELECT ARRAY[1,2,3]::numeric[]::vector;
SELECT ARRAY[2147483647, -2147483648]::vector;
SELECT ARRAY[0.1]::double precision[]::vector;
SELECT '{1e-46,-1e-46}'::double precision[]::vector;
SELECT '[2:4]={1,2,3}'::real[]::vector;

-- With a type modifier.
SELECT '{1,2,3}'::real[]::vector(3);
SELECT '{1,2,3}'::integer[]::vector(3);
SELECT '{1,2,3}'::numeric[]::vector(3);
SELECT '{1,2,3}'::double precision[]::vector(3);

-- Rejected arrays, with SQLSTATEs.
SELECT input, pg_temp.try(format('SELECT %s', input)) AS result
FROM (VALUES ('''{1,2,3}''::real[]::vector(2)'),
			 ('''{1,2,3}''::integer[]::vector(2)'),
			 ('''{1,2,3}''::double precision[]::vector(4)'),
			 ('''{1,2,3}''::numeric[]::vector(2)'),
			 ('''{NULL}''::real[]::vector'),
			 ('''{1,NULL,3}''::integer[]::vector'),
			 ('''{1,NULL}''::numeric[]::vector'),
			 ('''{NaN}''::real[]::vector'),
			 ('''{NaN}''::double precision[]::vector'),
			 ('''{NaN}''::numeric[]::vector'),
			 ('''{Infinity}''::real[]::vector'),
			 ('''{-Infinity}''::real[]::vector'),
			 ('''{Infinity}''::double precision[]::vector'),
			 ('''{4e38,-4e38}''::double precision[]::vector'),
			 ('''{1e39}''::numeric[]::vector'),
			 ('''{}''::real[]::vector'),
			 ('''{}''::integer[]::vector'),
			 ('''{{1}}''::real[]::vector'),
			 ('''{{1,2},{3,4}}''::integer[]::vector'),
			 ('''{1,2}''::bigint[]::vector'),
			 ('''{1,2}''::text[]::vector'),
			 ('array_agg(n)::vector FROM generate_series(1, 16001) n'),
			 ('array_to_vector(array_agg(n), 16001, false) FROM generate_series(1, 16001) n')
	 ) AS cases(input);

SELECT vector_dims(array_agg(n)::vector) FROM generate_series(1, 16000) n;

-- To real[], an implicit cast.
SELECT '[1,2,3]'::vector::real[];
SELECT '[1.5,-0.25]'::vector::float4[];
SELECT array_length('[1,2,3,4]'::vector::real[], 1);
SELECT ('[1,2,3]'::vector::real[])[2];
SELECT vector_dims('[1,2,3]'::vector::real[]::vector);

-- Assignment casts on INSERT and UPDATE, with the column's type modifier.
CREATE TABLE items (embedding vector(3));
INSERT INTO items VALUES (ARRAY[1,2,3]);
INSERT INTO items VALUES (ARRAY[1.5,2.5,3.5]::real[]);
INSERT INTO items VALUES (ARRAY[1,2]);
INSERT INTO items VALUES ('{1,2,3,4}'::double precision[]);
UPDATE items SET embedding = ARRAY[4,5,6]::numeric[] WHERE embedding = '[1,2,3]';
UPDATE items SET embedding = ARRAY[4,5] WHERE embedding = '[4,5,6]';
SELECT * FROM items ORDER BY embedding;
DROP TABLE items;

-- The casts are listed in the catalog with their contexts.
SELECT castsource::regtype, casttarget::regtype, castcontext
FROM pg_cast
WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype
ORDER BY castsource::regtype::text, casttarget::regtype::text;

-- Array comparison is unaffected by the casts.
SELECT ARRAY[1,2,3] = ARRAY[1,2,3];
