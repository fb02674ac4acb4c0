-- Image embedding functions, served by similarity_embed.so.

CREATE FUNCTION similarity_torch_version() RETURNS text
	AS '$libdir/similarity_embed', 'similarity_torch_version'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
