-- Re-embedding: keep an embedding column in step with a model, in batches.
--
-- similarity.reembed() embeds the rows of a table whose embedding is missing
-- or was computed by another model version.  A companion text column (by
-- default "<embedding column>_model_version") stores, per row, the version
-- tag of the model that produced the embedding, so a new model makes the old
-- embeddings stale.  Each batch is locked with FOR UPDATE SKIP LOCKED,
-- embedded with one call of the batch form of image_embed, and committed.
-- A cancelled run therefore keeps its finished batches, and two overlapping
-- runs split the rows instead of embedding them twice.
--
-- The procedure cannot carry a SET search_path clause, because PostgreSQL
-- forbids COMMIT in procedures that have one.  It sets search_path to
-- pg_catalog, pg_temp with set_config(..., true) at the start of every
-- transaction instead, and names extension objects with their schema.

-- One row per call of similarity.reembed().
CREATE TABLE similarity.reembed_runs (
	run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	relation oid NOT NULL,
	relation_name text NOT NULL,
	image_column name NOT NULL,
	embedding_column name NOT NULL,
	model text NOT NULL,
	model_version text NOT NULL,
	batch_size integer NOT NULL,
	pid integer NOT NULL,
	rows_pending bigint NOT NULL,
	rows_null_image bigint NOT NULL,
	rows_embedded bigint NOT NULL DEFAULT 0,
	rows_failed bigint NOT NULL DEFAULT 0,
	batches integer NOT NULL DEFAULT 0,
	started_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	finished_at timestamptz
);

COMMENT ON TABLE similarity.reembed_runs IS
	'one row per similarity.reembed() call; rows_pending counts the rows that needed work when the run started';

-- Images that could not be embedded.  The row keeps a NULL embedding and the
-- current version tag, so later runs skip it until the model changes or a
-- run is called with retry_failed => true.
CREATE TABLE similarity.reembed_failures (
	run_id bigint NOT NULL REFERENCES similarity.reembed_runs ON DELETE CASCADE,
	relation oid NOT NULL,
	row_key text NOT NULL,
	sqlstate text NOT NULL,
	message text NOT NULL,
	failed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

COMMENT ON COLUMN similarity.reembed_failures.row_key IS
	'primary key of the row, as "(col, ...)=(value, ...)", or its ctid when the table has no primary key';

-- A run holds the transaction-level advisory lock (1397312845, run_id) while
-- it works, so the view can tell a live run from one that was cancelled or
-- whose session ended.  1397312845 is the ASCII code of "SIMM".
CREATE VIEW similarity.reembed_status AS
SELECT r.run_id,
	   r.relation::pg_catalog.regclass AS relation,
	   r.image_column,
	   r.embedding_column,
	   r.model,
	   r.model_version,
	   CASE
		   WHEN r.finished_at IS NOT NULL THEN 'finished'
		   WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
						WHERE l.locktype = 'advisory'
						  AND l.classid = 1397312845::pg_catalog.oid
						  AND l.objid = r.run_id::pg_catalog.oid
						  AND l.objsubid = 2
						  AND l.pid = r.pid
						  AND l.granted) THEN 'running'
		   ELSE 'interrupted'
	   END AS state,
	   r.rows_pending,
	   r.rows_embedded,
	   r.rows_failed,
	   r.rows_null_image,
	   r.batches,
	   pg_catalog.round(((r.rows_embedded + r.rows_failed)
			 / NULLIF(EXTRACT(epoch FROM r.updated_at - r.started_at), 0))::pg_catalog.numeric, 1)
		   AS rows_per_second,
	   r.pid,
	   r.started_at,
	   r.updated_at,
	   r.finished_at
FROM similarity.reembed_runs r;

COMMENT ON VIEW similarity.reembed_status IS
	'progress of similarity.reembed() runs; state is running, finished or interrupted (cancelled, or its session ended)';

-- The status tables are written through these SECURITY DEFINER functions, so
-- any role that may update a table can also record its runs, while the
-- status tables themselves stay read-only to it.  Any role can add run rows
-- this way, but a run's counts change only from the session that started it.
CREATE FUNCTION similarity.reembed_run_begin(
	relation oid, image_column name, embedding_column name, model text,
	model_version text, batch_size integer, rows_pending bigint,
	rows_null_image bigint)
RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO similarity.reembed_runs
		(relation, relation_name, image_column, embedding_column, model,
		 model_version, batch_size, pid, rows_pending, rows_null_image,
		 started_at, updated_at)
	VALUES ($1, $1::regclass::text, $2, $3, $4, $5, $6, pg_backend_pid(), $7, $8,
			clock_timestamp(), clock_timestamp())
	RETURNING run_id
$$;

-- Add one batch's counts to a run of this session; finished => true closes it.
CREATE FUNCTION similarity.reembed_run_progress(
	run_id bigint, embedded bigint, failed bigint, finished boolean DEFAULT false)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE similarity.reembed_runs r
	SET rows_embedded = r.rows_embedded + $2,
		rows_failed = r.rows_failed + $3,
		batches = r.batches + CASE WHEN $2 + $3 > 0 THEN 1 ELSE 0 END,
		updated_at = clock_timestamp(),
		finished_at = CASE WHEN $4 THEN clock_timestamp() END
	WHERE r.run_id = $1 AND r.pid = pg_backend_pid()
$$;

CREATE FUNCTION similarity.reembed_record_failure(
	run_id bigint, row_key text, sqlstate text, message text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO similarity.reembed_failures (run_id, relation, row_key, sqlstate, message)
	SELECT r.run_id, r.relation, $2, $3, $4
	FROM similarity.reembed_runs r
	WHERE r.run_id = $1 AND r.pid = pg_backend_pid()
$$;

-- Version tag stored in the companion column: the model name and the version
-- that similarity_model_info() reports for it.
CREATE FUNCTION similarity.model_version_tag(model text)
RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN model || ':' || (@extschema@.similarity_model_info(model) ->> 'version');
END
$$;

-- Whether an error raised while embedding one image is a problem of that
-- image (skip the row) rather than of the model or the server (stop the run).
-- image_embed raises 22000 for undecodable images and 54000 for images over
-- similarity.max_image_pixels, but 22023 for an invalid model name.
CREATE FUNCTION similarity.reembed_is_image_error(sqlstate text)
RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (left($1, 2) = '22' AND $1 <> '22023') OR $1 = '54000'
$$;

CREATE PROCEDURE similarity.reembed(
	target_table regclass,
	image_column text,
	embedding_column text,
	model text DEFAULT 'vgg16',
	batch_size integer DEFAULT 64,
	version_column text DEFAULT NULL,
	max_rows bigint DEFAULT NULL,
	retry_failed boolean DEFAULT false,
	batch_delay interval DEFAULT NULL,
	projected_column text DEFAULT NULL,
	pca_table regclass DEFAULT NULL,
	pca_column text DEFAULT 'pca')
LANGUAGE plpgsql
AS $reembed$
DECLARE
	lock_class constant integer := 1397312845;
	vector_type constant pg_catalog.regtype := '@extschema@.vector'::pg_catalog.regtype;
	version_tag text;
	image_type pg_catalog.regtype;
	embedding_type pg_catalog.regtype;
	version_type pg_catalog.regtype;
	table_sql text;
	pca_table_sql text;
	key_sql text;
	key_columns text;
	key_values text;
	projection_sql text := '';
	select_sql text;
	update_sql text;
	rows_pending bigint;
	rows_null_image bigint;
	this_run bigint;
	other_run bigint;
	last_row pg_catalog.tid := '(0,0)';
	row_ids pg_catalog.tid[];
	row_keys text[];
	images bytea[];
	embeddings @extschema@.vector[];
	batch_rows integer;
	batch_failed integer;
	total_embedded bigint := 0;
	total_failed bigint := 0;
	started timestamptz;
	elapsed double precision;
	error_state text;
	error_message text;
BEGIN
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

	-- Check the arguments before any work, so that a typo fails at once.
	IF target_table IS NULL OR image_column IS NULL OR embedding_column IS NULL OR model IS NULL THEN
		RAISE EXCEPTION 'target_table, image_column, embedding_column and model must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- Name the tables with their schema in all generated SQL, because a
	-- regclass prints without one when it is visible in the search_path of
	-- the moment, and the search_path changes across COMMIT.
	SELECT format('%I.%I', n.nspname, c.relname) INTO table_sql
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = target_table;
	IF pca_table IS NOT NULL THEN
		SELECT format('%I.%I', n.nspname, c.relname) INTO pca_table_sql
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = pca_table;
	END IF;

	IF batch_size IS NULL OR batch_size < 1 OR batch_size > 100000 THEN
		RAISE EXCEPTION 'batch_size % is out of range', coalesce(batch_size::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'batch_size must be between 1 and 100000.';
	END IF;
	IF max_rows IS NOT NULL AND max_rows < 1 THEN
		RAISE EXCEPTION 'max_rows % is out of range', max_rows
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'max_rows must be at least 1, or NULL for no limit.';
	END IF;
	IF (projected_column IS NULL) <> (pca_table IS NULL) THEN
		RAISE EXCEPTION 'projected_column and pca_table must be given together'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	version_column := coalesce(version_column, embedding_column || '_model_version');
	IF octet_length(version_column) > 63 THEN
		RAISE EXCEPTION 'version column name "%" is too long', version_column
			USING ERRCODE = 'name_too_long',
				  HINT = 'Pass a shorter name as version_column.';
	END IF;

	SELECT a.atttypid INTO image_type FROM pg_attribute a
	WHERE a.attrelid = target_table AND a.attname = image_column
	  AND a.attnum > 0 AND NOT a.attisdropped;
	IF image_type IS NULL THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', image_column, target_table
			USING ERRCODE = 'undefined_column';
	ELSIF image_type <> 'bytea'::regtype THEN
		RAISE EXCEPTION 'image column "%" of relation % has type %, not bytea',
			image_column, target_table, image_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;

	SELECT a.atttypid INTO embedding_type FROM pg_attribute a
	WHERE a.attrelid = target_table AND a.attname = embedding_column
	  AND a.attnum > 0 AND NOT a.attisdropped;
	IF embedding_type IS NULL THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', embedding_column, target_table
			USING ERRCODE = 'undefined_column';
	ELSIF embedding_type <> vector_type THEN
		RAISE EXCEPTION 'embedding column "%" of relation % has type %, not vector',
			embedding_column, target_table, embedding_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;

	IF projected_column IS NOT NULL THEN
		IF NOT EXISTS (SELECT 1 FROM pg_attribute a
					   WHERE a.attrelid = target_table AND a.attname = projected_column
						 AND a.atttypid = vector_type AND a.attnum > 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION 'relation % has no vector column "%"', target_table, projected_column
				USING ERRCODE = 'undefined_column';
		END IF;
		EXECUTE format('SELECT count(*) FROM %s', pca_table_sql) INTO rows_pending;
		IF rows_pending <> 1 THEN
			RAISE EXCEPTION 'pca_table % must contain exactly one row, not %', pca_table, rows_pending
				USING ERRCODE = 'cardinality_violation',
					  HINT = 'Store the result of pca_fit() in a one-row table.';
		END IF;
		projection_sql := format(', %I = @extschema@.pca_project((SELECT p.%I FROM %s AS p), u.embedding)',
								 projected_column, pca_column, pca_table_sql);
	END IF;

	-- The companion column records which model version made each embedding.
	SELECT a.atttypid INTO version_type FROM pg_attribute a
	WHERE a.attrelid = target_table AND a.attname = version_column
	  AND a.attnum > 0 AND NOT a.attisdropped;
	IF version_type IS NULL THEN
		RAISE NOTICE 'adding column "%" to % to record the model version of each embedding',
			version_column, target_table;
		EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS %I text', table_sql, version_column);
	ELSIF version_type <> 'text'::regtype THEN
		RAISE EXCEPTION 'version column "%" of relation % has type %, not text',
			version_column, target_table, version_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;

	-- Fails with the embedding module's error when the model is not registered.
	version_tag := similarity.model_version_tag(model);

	-- Failures are reported by primary key, or by ctid when there is none.
	SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord),
		   string_agg(format('t.%I::text', a.attname), ', ' ORDER BY k.ord)
	INTO key_columns, key_values
	FROM pg_index i
		 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
		 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
	WHERE i.indrelid = target_table AND i.indisprimary;
	IF key_columns IS NULL THEN
		key_sql := '''ctid '' || t.ctid::text';
	ELSE
		key_sql := format('%L || concat_ws(%L, %s) || %L',
						  '(' || key_columns || ')=(', ', ', key_values, ')');
	END IF;

	IF retry_failed THEN
		EXECUTE format('UPDATE %s AS t SET %I = NULL WHERE t.%I IS NULL AND t.%I = $1 AND t.%I IS NOT NULL',
					   table_sql, version_column, embedding_column, version_column, image_column)
			USING version_tag;
	END IF;

	EXECUTE format('SELECT count(*) FILTER (WHERE t.%I IS NOT NULL AND t.%I IS DISTINCT FROM $1),
						   count(*) FILTER (WHERE t.%I IS NULL)
					FROM %s AS t',
				   image_column, version_column, image_column, table_sql)
		INTO rows_pending, rows_null_image
		USING version_tag;

	this_run := similarity.reembed_run_begin(target_table, image_column, embedding_column, model,
										   version_tag, batch_size, rows_pending, rows_null_image);

	SELECT s.run_id INTO other_run FROM similarity.reembed_status s
	WHERE s.relation = target_table AND s.embedding_column = reembed.embedding_column
	  AND s.state = 'running' AND s.run_id <> this_run
	LIMIT 1;

	RAISE NOTICE 'reembed run %: % rows of % need model % (version %), % rows have a NULL image and are skipped',
		this_run, rows_pending, target_table, model, version_tag, rows_null_image;
	IF other_run IS NOT NULL THEN
		RAISE NOTICE 'reembed run % is still working on %; this run takes only the rows it leaves unlocked',
			other_run, target_table;
	END IF;
	COMMIT;

	-- The batch query walks the table in ctid order from last_row.  A row
	-- that another session updated while this run waited for it comes back
	-- with its new, later ctid, and the walk may jump past unprocessed rows.
	-- So at the end of the table the walk starts again from the beginning,
	-- and the run ends only when a walk from the beginning finds nothing.
	select_sql := format(
		'SELECT array_agg(s.row_id), array_agg(s.image), array_agg(s.row_key)
		 FROM (SELECT t.ctid AS row_id, t.%I AS image, %s AS row_key
			   FROM %s AS t
			   WHERE t.ctid > $1 AND t.%I IS NOT NULL AND t.%I IS DISTINCT FROM $2
			   LIMIT $3
			   FOR UPDATE OF t SKIP LOCKED) AS s',
		image_column, key_sql, table_sql, image_column, version_column);
	update_sql := format(
		'UPDATE %s AS t SET %I = u.embedding, %I = $3%s
		 FROM unnest($1::tid[], $2::@extschema@.vector[]) AS u(row_id, embedding)
		 WHERE t.ctid = u.row_id',
		table_sql, embedding_column, version_column, projection_sql);
	started := clock_timestamp();

	LOOP
		PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
		PERFORM pg_catalog.pg_advisory_xact_lock(lock_class, this_run::integer);
		-- Sleep while holding the lock, so the run shows as running.
		IF batch_delay IS NOT NULL AND total_embedded + total_failed > 0 THEN
			PERFORM pg_catalog.pg_sleep_for(batch_delay);
		END IF;

		EXECUTE select_sql INTO row_ids, images, row_keys
			USING last_row, version_tag,
				  CASE WHEN max_rows IS NULL THEN batch_size
					   ELSE least(batch_size, max_rows - total_embedded - total_failed) END;
		IF row_ids IS NULL THEN
			EXIT WHEN last_row = '(0,0)'::tid;
			last_row := '(0,0)';
			CONTINUE;
		END IF;
		SELECT max(r) INTO last_row FROM unnest(row_ids) AS r;
		batch_rows := cardinality(row_ids);
		batch_failed := 0;

		BEGIN
			embeddings := @extschema@.image_embed(images, model);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS error_state = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
			IF NOT similarity.reembed_is_image_error(error_state) THEN
				RAISE;
			END IF;
			-- One bad image fails the whole batch call, so embed the batch
			-- again one image at a time to find and skip the bad ones.
			RAISE NOTICE 'reembed run %: batch of % rows failed (%), embedding them one at a time',
				this_run, batch_rows, error_message;
			embeddings := array_fill(NULL::@extschema@.vector, ARRAY[batch_rows]);
			FOR i IN 1 .. batch_rows LOOP
				BEGIN
					embeddings[i] := @extschema@.image_embed(images[i], model);
				EXCEPTION WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS error_state = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
					IF NOT similarity.reembed_is_image_error(error_state) THEN
						RAISE;
					END IF;
					batch_failed := batch_failed + 1;
					PERFORM similarity.reembed_record_failure(this_run, row_keys[i], error_state, error_message);
					RAISE WARNING 'reembed run %: skipping row % of %: %',
						this_run, row_keys[i], target_table, error_message;
				END;
			END LOOP;
		END;

		EXECUTE update_sql USING row_ids, embeddings, version_tag;
		PERFORM similarity.reembed_run_progress(this_run, batch_rows - batch_failed, batch_failed);
		total_embedded := total_embedded + batch_rows - batch_failed;
		total_failed := total_failed + batch_failed;
		COMMIT;

		elapsed := extract(epoch FROM clock_timestamp() - started);
		RAISE NOTICE 'reembed run %: % of % rows embedded, % failed, % rows/s',
			this_run, total_embedded, rows_pending, total_failed,
			round(((total_embedded + total_failed) / greatest(elapsed, 0.001))::numeric, 1);

		EXIT WHEN max_rows IS NOT NULL AND total_embedded + total_failed >= max_rows;
	END LOOP;

	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	PERFORM similarity.reembed_run_progress(this_run, 0, 0, true);
	RAISE NOTICE 'reembed run % finished: % rows embedded, % failed in % s',
		this_run, total_embedded, total_failed,
		round(extract(epoch FROM clock_timestamp() - started)::numeric, 1);
	COMMIT;
END
$reembed$;

COMMENT ON PROCEDURE similarity.reembed IS
	'embed, in committed batches, the rows whose embedding is missing or was made by another model version';
