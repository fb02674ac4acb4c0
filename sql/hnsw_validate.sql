-- amvalidate() checks hnsw operator classes.

-- The shipped operator classes are valid.
SELECT opcname, amvalidate(opc.oid)
FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
WHERE am.amname = 'hnsw'
ORDER BY opcname;

-- A support function of the wrong signature, and then no distance function.
CREATE OPERATOR CLASS hnsw_bad_function FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_norm(vector);
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'hnsw_bad_function';

-- A search operator instead of an ordering one, and a strategy number the
-- access method does not know.
CREATE OPERATOR CLASS hnsw_bad_operators FOR TYPE vector USING hnsw AS
	OPERATOR 1 = (vector, vector),
	OPERATOR 2 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector);
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'hnsw_bad_operators';

-- An ordering operator sorted by a family that cannot sort float8.
CREATE OPERATOR CLASS hnsw_bad_sort FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY integer_ops,
	FUNCTION 1 vector_l2_squared_distance(vector, vector);
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'hnsw_bad_sort';

-- A complete class of the same shape as the shipped ones is valid.
CREATE OPERATOR CLASS hnsw_good FOR TYPE vector USING hnsw AS
	OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(vector, vector);
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'hnsw_good';

DROP OPERATOR FAMILY hnsw_bad_function USING hnsw;
DROP OPERATOR FAMILY hnsw_bad_operators USING hnsw;
DROP OPERATOR FAMILY hnsw_bad_sort USING hnsw;
DROP OPERATOR FAMILY hnsw_good USING hnsw;
