-- Comparison operators, vector_cmp, the btree operator class and exact
-- nearest-neighbour search without an index.

SELECT '[1,2,3]'::vector < '[1,2,3]';
SELECT '[1,2,3]'::vector < '[1,2]';
SELECT '[1,2,3]'::vector <= '[1,2,3]';
SELECT '[1,2,3]'::vector <= '[1,2]';
SELECT '[1,2,3]'::vector = '[1,2,3]';
SELECT '[1,2,3]'::vector = '[1,2]';
SELECT '[1,2,3]'::vector <> '[1,2,3]';
SELECT '[1,2,3]'::vector != '[1,2]';
SELECT '[1,2,3]'::vector >= '[1,2,3]';
SELECT '[1,2,3]'::vector >= '[1,2]';
SELECT '[1,2,3]'::vector > '[1,2,3]';
SELECT '[1,2,3]'::vector > '[1,2]';
SELECT '[0]'::vector = '[-0]';

SELECT vector_cmp('[1,2,3]', '[1,2,3]');
SELECT vector_cmp('[1,2,3]', '[0,0,0]');
SELECT vector_cmp('[0,0,0]', '[1,2,3]');
SELECT vector_cmp('[1,2]', '[1,2,3]');
SELECT vector_cmp('[1,2,3]', '[1,2]');
SELECT vector_cmp('[1,2]', '[2,3,4]');
SELECT vector_cmp('[2,3]', '[1,2,3]');

-- The btree operator class serves ORDER BY, equality lookups, DISTINCT,
-- GROUP BY, unique indexes and merge joins.
CREATE TABLE items (id integer, embedding vector);
INSERT INTO items VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[1,1,1]'), (4, NULL),
						 (5, '[1,2]'), (6, '[1,2,3]'), (7, '[-1,5,0]');
CREATE INDEX ON items (embedding);
SELECT opcname, amname FROM pg_opclass JOIN pg_am ON opcmethod = pg_am.oid
WHERE opcintype = 'vector'::regtype AND amname = 'btree' ORDER BY opcname;

SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM items WHERE embedding = '[1,2,3]';
SELECT * FROM items WHERE embedding = '[1,2,3]' ORDER BY id;
EXPLAIN (COSTS OFF) SELECT * FROM items ORDER BY embedding;
SELECT * FROM items ORDER BY embedding, id;
SELECT * FROM items WHERE embedding > '[1,1,1]' ORDER BY embedding, id;
RESET enable_seqscan;

SELECT DISTINCT embedding FROM items ORDER BY embedding;
SELECT embedding, count(*) FROM items GROUP BY embedding ORDER BY embedding;
SELECT min(id), max(id) FROM items GROUP BY embedding HAVING count(*) > 1;

CREATE UNIQUE INDEX ON items (embedding) WHERE id < 6;
INSERT INTO items VALUES (8, '[1,2,3]');

SET enable_hashjoin = off;
SET enable_nestloop = off;
SELECT a.id, b.id FROM items a JOIN items b ON a.embedding = b.embedding
WHERE a.id < b.id ORDER BY 1, 2;
RESET enable_hashjoin;
RESET enable_nestloop;
DROP TABLE items;

-- Exact k-nearest-neighbour search without an index, for every distance.
CREATE TABLE points (id integer PRIMARY KEY, embedding vector(3));
INSERT INTO points
SELECT i, ARRAY[i % 7, (i * 3) % 11, (i * 5) % 13]::vector(3)
FROM generate_series(1, 200) AS i;
INSERT INTO points VALUES (1000, '[0,0,0]');

PREPARE knn_cosine(vector) AS
	SELECT id, embedding, round((embedding <=> $1)::numeric, 6) AS distance
	FROM points ORDER BY embedding <=> $1, id LIMIT 5;
EXPLAIN (COSTS OFF) EXECUTE knn_cosine('[1,2,3]');
EXECUTE knn_cosine('[1,2,3]');
EXECUTE knn_cosine('[6,0,0]');

SELECT id, embedding, round((embedding <-> '[3,3,3]')::numeric, 6) AS distance
FROM points ORDER BY embedding <-> '[3,3,3]', id LIMIT 5;
SELECT id, embedding, embedding <#> '[1,1,1]' AS distance
FROM points ORDER BY embedding <#> '[1,1,1]', id LIMIT 5;
SELECT id, embedding, embedding <+> '[3,3,3]' AS distance
FROM points ORDER BY embedding <+> '[3,3,3]', id LIMIT 5;

-- The result equals a sort of every row by the distance.
SELECT array_agg(id) AS top10 FROM (
	SELECT id FROM points ORDER BY embedding <=> '[2,7,1]', id LIMIT 10) AS k;
SELECT array_agg(id ORDER BY d, id) FILTER (WHERE r <= 10) AS top10_by_sort
FROM (SELECT id, embedding <=> '[2,7,1]' AS d,
			 row_number() OVER (ORDER BY embedding <=> '[2,7,1]', id) AS r
	  FROM points) AS s;

-- The zero vector's NaN distance sorts last, as NaN does in PostgreSQL.
SELECT id FROM points ORDER BY embedding <=> '[1,0,0]' DESC, id LIMIT 1;
DROP TABLE points;
