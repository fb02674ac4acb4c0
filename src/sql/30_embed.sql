-- Image embedding functions, served by similarity_embed.so.
--
-- They are STABLE, not IMMUTABLE: a result depends on the model files and on
-- settings, so the planner must not fold it into a plan or an index
-- expression.  PARALLEL RESTRICTED keeps each model in the leader backend,
-- since every parallel worker would load its own copy.

CREATE FUNCTION image_embed(image bytea, model text) RETURNS vector
	AS '$libdir/similarity_embed', 'similarity_image_embed'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED COST 100000;

CREATE FUNCTION image_embed(images bytea[], model text) RETURNS vector[]
	AS '$libdir/similarity_embed', 'similarity_image_embed_array'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED COST 1000000;

CREATE FUNCTION vgg_embed(image bytea) RETURNS vector
	AS $$ SELECT @extschema@.image_embed($1, 'vgg16') $$
	LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED;

CREATE FUNCTION vgg_embed(images bytea[]) RETURNS vector[]
	AS $$ SELECT @extschema@.image_embed($1, 'vgg16') $$
	LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED;

-- Manifest, file, weights, device, precision and a version string (sha256 of
-- the manifest and the model file) of a model in similarity.model_dir.
CREATE FUNCTION similarity_model_info(model text) RETURNS jsonb
	AS '$libdir/similarity_embed', 'similarity_model_info'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

-- Names of the models in similarity.model_dir.
CREATE FUNCTION similarity_models() RETURNS SETOF text
	AS '$libdir/similarity_embed', 'similarity_models'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

CREATE FUNCTION similarity_torch_version() RETURNS text
	AS '$libdir/similarity_embed', 'similarity_torch_version'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
