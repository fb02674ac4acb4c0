-- avg(vector) and sum(vector), both parallel safe.  The avg state is a
-- float8[]: the row count followed by the sum of each dimension.

CREATE FUNCTION vector_accum(double precision[], vector) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_avg(double precision[]) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE avg(vector) (
	SFUNC = @extschema@.vector_accum,
	STYPE = double precision[],
	FINALFUNC = @extschema@.vector_avg,
	COMBINEFUNC = @extschema@.vector_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE sum(vector) (
	SFUNC = @extschema@.vector_add,
	STYPE = vector,
	COMBINEFUNC = @extschema@.vector_add,
	PARALLEL = SAFE
);
