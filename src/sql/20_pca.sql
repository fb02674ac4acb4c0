-- The pca type, the pca_fit aggregate and pca_project.

CREATE TYPE pca;

CREATE FUNCTION pca_in(cstring) RETURNS pca
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pca_out(pca) RETURNS cstring
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pca_recv(internal) RETURNS pca
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pca_send(pca) RETURNS bytea
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Models are megabytes of mostly incompressible floats; extended storage
-- moves them out of line into TOAST.
CREATE TYPE pca (
	INPUT          = pca_in,
	OUTPUT         = pca_out,
	RECEIVE        = pca_recv,
	SEND           = pca_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT      = double,
	STORAGE        = extended
);

-- Accessors

CREATE FUNCTION pca_dims(pca) RETURNS integer
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pca_n_components(pca) RETURNS integer
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pca_explained_variance(pca) RETURNS double precision[]
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pca_explained_variance_ratio(pca) RETURNS double precision[]
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pca_mean(pca) RETURNS vector
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pca_components(pca) RETURNS vector[]
	AS '$libdir/similarity_pca' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Projection

CREATE FUNCTION pca_project(model pca, v vector) RETURNS vector
	AS '$libdir/similarity_pca', 'pca_project' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pca_project(model pca, vs vector[]) RETURNS vector[]
	AS '$libdir/similarity_pca', 'pca_project_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The aggregate

CREATE FUNCTION pca_fit_transfn(internal, vector, integer) RETURNS internal
	AS '$libdir/similarity_pca' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION pca_fit_combinefn(internal, internal) RETURNS internal
	AS '$libdir/similarity_pca' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION pca_fit_serialfn(internal) RETURNS bytea
	AS '$libdir/similarity_pca' LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION pca_fit_deserialfn(bytea, internal) RETURNS internal
	AS '$libdir/similarity_pca' LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION pca_fit_finalfn(internal) RETURNS pca
	AS '$libdir/similarity_pca' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE pca_fit(v vector, n_components integer) (
	SFUNC            = pca_fit_transfn,
	STYPE            = internal,
	FINALFUNC        = pca_fit_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC      = pca_fit_combinefn,
	SERIALFUNC       = pca_fit_serialfn,
	DESERIALFUNC     = pca_fit_deserialfn,
	PARALLEL         = SAFE
);
