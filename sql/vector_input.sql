-- Text and binary input and output of the vector type, and the type
-- modifier.  try() runs a statement and returns its SQLSTATE and message,
-- so that tables of bad input show both.
CREATE FUNCTION pg_temp.try(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE statement;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- Valid text: spaces, signs, exponents, shortest round-trip output.
SELECT '[1,2,3]'::vector;
SELECT '[-1,-2,-3]'::vector;
SELECT '[1.,2.,3.]'::vector;
SELECT ' [ 1,  2 ,    3  ] '::vector;
SELECT (E'\t[\n1,\r2\f,' || chr(11) || E'3]\n')::vector;
SELECT '[+1.5e2,-2.5E-3,.5,0.1]'::vector;
SELECT '[1.23456789]'::vector;
SELECT '[0.1]'::vector::text::vector = '[0.1]'::vector AS round_trip;
SELECT '[3.4028235e38,-3.4028235e38,1.4e-45]'::vector;
SELECT '[1.5e-38,-1.5e-38]'::vector;
-- Values below the smallest float4 round to zero, as float4in does.
SELECT '[1e-46,-1e-46]'::vector;
SELECT '[-0]'::vector;

-- Malformed and rejected text, with SQLSTATEs.
SELECT input, pg_temp.try(format('SELECT %L::vector', input)) AS result
FROM (VALUES (''), ('   '), ('1,2,3'), ('['), ('[ '), ('[,'), (']'), ('[1,2,3'),
			 ('[1,2,3]9'), ('[1,2,3] ,'), ('[1,,3]'), ('[1, ,3]'), ('[,]'), ('[1,]'),
			 ('[1a]'), ('[hello,1]'), ('[1 2]'), ('[[1]]'), ('(1,2)'), ('{1,2}'),
			 ('[]'), ('[ ]'), ('[NaN,1]'), ('[nan]'), ('[Infinity,1]'),
			 ('[-Infinity,1]'), ('[inf]'), ('[4e38,1]'), ('[-4e38,1]'),
			 ('[1e39]'), ('[1e400]')) AS cases(input);

-- The messages as clients see them, with DETAIL.
SELECT '1,2,3'::vector;
SELECT '[1,2,3]9'::vector;
SELECT '[NaN]'::vector;
SELECT '[4e38]'::vector;

-- Dimension limit: 16000 is accepted, 16001 is not.
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::vector);
SELECT pg_temp.try('SELECT (''['' || array_to_string(array_fill(1, ARRAY[16001]), '','') || '']'')::vector');

-- Type modifier.
SELECT '[1,2,3]'::vector(3);
SELECT input, pg_temp.try(format('SELECT %s', input)) AS result
FROM (VALUES ('''[1,2,3]''::vector(2)'), ('''[1,2,3]''::vector(3, 2)'),
			 ('''[1,2,3]''::vector(''a'')'), ('''[1,2,3]''::vector(0)'),
			 ('''[1,2,3]''::vector(-1)'), ('''[1,2,3]''::vector(16001)'),
			 ('''{"[1,2,3]"}''::vector(2)[]')) AS cases(input);
SELECT vector_dims(array_fill(1, ARRAY[16000])::vector(16000));
SELECT unnest('{"[1,2,3]", "[4,5,6]"}'::vector[]);

-- The type modifier is enforced on INSERT, UPDATE, COPY and casts.
CREATE TABLE items (id integer, embedding vector(3));
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'items'::regclass AND attname = 'embedding';
INSERT INTO items VALUES (1, '[1,2,3]'), (2, NULL);
INSERT INTO items VALUES (3, '[1,2]');
INSERT INTO items VALUES (3, '[1,2,3,4]'::vector);
INSERT INTO items VALUES (3, '[1,2,3,4]'::vector(4));
UPDATE items SET embedding = '[1,2]' WHERE id = 1;
UPDATE items SET embedding = embedding || '[4]' WHERE id = 1;
UPDATE items SET embedding = '[4,5,6]' WHERE id = 1;
COPY items FROM stdin;
4	[7,8,9]
5	[1,2]
\.
COPY items FROM stdin;
4	[7,8,9]
\.
SELECT * FROM items ORDER BY id;
DROP TABLE items;

-- Binary output: int16 dimensions, int16 zero, then float4 values, all
-- in network byte order.
SELECT vector_send('[1,2,3]');
SELECT vector_send('[-0.5,1e-45]');
SELECT vector_send('[1.5]'::vector(1));

-- Binary input through COPY: each case writes a binary COPY file with one
-- vector field and loads it.  The file goes into the test's output
-- directory, which the server can write.
\getenv output_dir PG_ABS_BUILDDIR
\set copy_file :output_dir '/results/vector_input.copy'
CREATE FUNCTION pg_temp.copy_file(field bytea) RETURNS bytea
LANGUAGE sql AS $$
	SELECT '\x5047434f50590aff0d0a00'::bytea	-- signature "PGCOPY\n\377\r\n\0"
		|| '\x0000000000000000'::bytea			-- flags, header extension length
		|| '\x0001'::bytea						-- one field
		|| int4send(length(field)) || field
		|| '\xffff'::bytea						-- end of data
$$;
CREATE FUNCTION pg_temp.load_binary(target regclass, field bytea, path text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	loid oid := lo_from_bytea(0, pg_temp.copy_file(field));
	result text;
BEGIN
	PERFORM lo_export(loid, path);
	PERFORM lo_unlink(loid);
	result := pg_temp.try(format('COPY %s FROM %L (FORMAT binary)', target, path));
	RETURN result;
END
$$;
CREATE TABLE binary_items (embedding vector);
SELECT description, pg_temp.load_binary('binary_items', field, :'copy_file') AS result
FROM (VALUES
	('valid [1,2,3]', '\x000300003f8000004000000040400000'::bytea),
	('valid [-0.5]', '\x00010000bf000000'),
	('zero dimensions', '\x00000000'),
	('negative dimensions', '\xffff0000'),
	('16001 dimensions', '\x3e810000'),
	('unused not zero', '\x000100013f800000'),
	('NaN element', '\x000100007fc00000'),
	('Infinity element', '\x000100007f800000'),
	('-Infinity element', '\x00010000ff800000'),
	('too few bytes', '\x000300003f80000040000000'),
	('trailing bytes', '\x000100003f80000000'),
	('truncated header', '\x0001')) AS cases(description, field);
SELECT * FROM binary_items;

-- Binary input is checked against the column's type modifier.
CREATE TABLE binary_items2 (embedding vector(2));
SELECT pg_temp.load_binary('binary_items2', '\x000300003f8000004000000040400000', :'copy_file');
SELECT pg_temp.load_binary('binary_items2', '\x000200003f80000040000000', :'copy_file');
SELECT * FROM binary_items2;

-- COPY out in binary and back in gives the same values.
CREATE TABLE binary_source (embedding vector);
INSERT INTO binary_source VALUES ('[1.25,-2,3e-7]'), ('[0.1,0.2]');
COPY binary_source TO :'copy_file' (FORMAT binary);
TRUNCATE binary_items;
COPY binary_items FROM :'copy_file' (FORMAT binary);
SELECT (SELECT array_agg(embedding::text ORDER BY embedding) FROM binary_items)
	 = (SELECT array_agg(embedding::text ORDER BY embedding) FROM binary_source) AS same;
DROP TABLE binary_items, binary_items2, binary_source;
