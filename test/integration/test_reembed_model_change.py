"""A new model version makes old embeddings stale, and reembed recomputes them.

Also runs under a hostile search_path and on a table and columns whose
names need quoting."""

from reembed_support import (create_photo_table, export_tiny_model, model_cluster,
                             temporary_model_dir)

ROWS = 12
TABLE = '"Odd ""items""; DROP TABLE keep; --"'

model_dir = temporary_model_dir()
model = export_tiny_model(model_dir, seed=1)

with model_cluster("model-change", model_dir) as node:
    node.execute("CREATE TABLE keep (id integer)")
    node.execute(f'CREATE TABLE {TABLE} (id integer PRIMARY KEY, "the photo" bytea, '
                 f'"the embedding" vector)')
    create_photo_table(node, table="staging", rows=ROWS)
    node.execute(f'INSERT INTO {TABLE} SELECT id, photo FROM staging')

    # Operators in a schema searched before pg_catalog must not be used.
    node.execute("CREATE SCHEMA hostile")
    node.execute("CREATE FUNCTION hostile.trap(text, text) RETURNS boolean LANGUAGE plpgsql "
                 "AS $$BEGIN RAISE EXCEPTION 'hostile operator called'; END$$")
    node.execute("CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, "
                 "FUNCTION = hostile.trap)")

    conn = node.connect()
    with conn.cursor() as cur:
        cur.execute("SET search_path = hostile, pg_catalog, public")
        cur.execute("CALL similarity.reembed(%s, 'the photo', 'the embedding', model => %s, "
                    "batch_size => 5)", (TABLE, model))
    conn.close()

    assert node.execute("SELECT to_regclass('keep') IS NOT NULL")[0][0], "table keep was dropped"
    old = dict(node.execute(f'SELECT id, "the embedding"::text FROM {TABLE}'))
    old_versions = node.execute(f'SELECT DISTINCT "the embedding_model_version" FROM {TABLE}')
    assert len(old) == ROWS, old
    assert all(old.values()), f"rows without an embedding: {old}"
    assert len(old_versions) == 1, old_versions

    # Register the same name with new weights: the version changes.
    export_tiny_model(model_dir, seed=2)
    node.execute("CALL similarity.reembed(%s, 'the photo', 'the embedding', model => %s, "
                 "batch_size => 5)", (TABLE, model))
    run = node.execute("SELECT rows_pending, rows_embedded, state FROM similarity.reembed_status "
                       "ORDER BY run_id DESC LIMIT 1")
    assert run == [(ROWS, ROWS, "finished")], run

    new = dict(node.execute(f'SELECT id, "the embedding"::text FROM {TABLE}'))
    new_versions = node.execute(f'SELECT DISTINCT "the embedding_model_version" FROM {TABLE}')
    assert len(new_versions) == 1, new_versions
    assert new_versions != old_versions, f"the version tag did not change: {new_versions}"
    changed = sum(1 for key in old if old[key] != new[key])
    assert changed == ROWS, f"only {changed} of {ROWS} embeddings changed"
    print("versions:", old_versions[0][0], "->", new_versions[0][0])
