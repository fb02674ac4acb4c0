"""reembed also fills a PCA-projected column, and the hnsw index follows.

Then runs the model-change steps that docs/demo.md gives: re-embed, refit
the PCA with other dimensions, re-project and rebuild the index."""

from reembed_support import (create_photo_table, export_tiny_model, model_cluster,
                             temporary_model_dir)

ROWS = 30
NEW_ROWS = 10

model_dir = temporary_model_dir()
model = export_tiny_model(model_dir, seed=1)

with model_cluster("projection", model_dir) as node:
    create_photo_table(node, rows=ROWS)
    node.execute("CALL similarity.reembed('items', 'photo', 'embedding', model => %s)", (model,))
    node.execute("CREATE TABLE items_pca AS SELECT pca_fit(embedding, 4) AS pca FROM items")
    node.execute("ALTER TABLE items ADD COLUMN projected vector(4)")
    node.execute("UPDATE items SET projected = pca_project((SELECT pca FROM items_pca), embedding)")
    have_hnsw = node.execute("SELECT count(*) FROM pg_am WHERE amname = 'hnsw'")[0][0] == 1
    if have_hnsw:
        node.execute("CREATE INDEX items_projected_idx ON items "
                     "USING hnsw (projected vector_cosine_ops)")

    # New rows: one call embeds and projects them.
    create_photo_table(node, rows=NEW_ROWS, first_id=ROWS + 1)
    node.execute("CALL similarity.reembed('items', 'photo', 'embedding', model => %s, "
                 "projected_column => 'projected', pca_table => 'items_pca')", (model,))
    counts = node.execute("SELECT count(*), count(projected) FROM items")
    assert counts == [(ROWS + NEW_ROWS, ROWS + NEW_ROWS)], counts
    mismatched = node.execute(
        "SELECT count(*) FROM items "
        "WHERE projected::text <> pca_project((SELECT pca FROM items_pca), embedding)::text")
    assert mismatched == [(0,)], mismatched

    if have_hnsw:
        # The index finds a new row as its own nearest neighbour.
        conn = node.connect()
        with conn.cursor() as cur:
            cur.execute("SET enable_seqscan = off")
            cur.execute("EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY projected <=> "
                        "(SELECT projected FROM items WHERE id = %s) LIMIT 1", (ROWS + 1,))
            plan = "\n".join(row[0] for row in cur.fetchall())
            assert "items_projected_idx" in plan, plan
            cur.execute("SELECT id FROM items ORDER BY projected <=> "
                        "(SELECT projected FROM items WHERE id = %s) LIMIT 1", (ROWS + 1,))
            assert cur.fetchone()[0] == ROWS + 1
        conn.close()

    # Mismatched arguments are rejected before any work.
    try:
        node.execute("CALL similarity.reembed('items', 'photo', 'embedding', model => %s, "
                     "projected_column => 'projected')", (model,))
        raise AssertionError("projected_column without pca_table was accepted")
    except Exception as error:
        assert getattr(error, "pgcode", None) == "22023", error

    # The model-change steps of docs/demo.md, with 3 dimensions instead of 4.
    export_tiny_model(model_dir, seed=2)
    node.execute("CALL similarity.reembed('items', 'photo', 'embedding', model => %s)", (model,))
    conn = node.connect(autocommit=False)
    with conn.cursor() as cur:
        cur.execute("TRUNCATE items_pca")
        cur.execute("INSERT INTO items_pca SELECT pca_fit(embedding, 3) FROM items "
                    "WHERE embedding IS NOT NULL")
        if have_hnsw:
            cur.execute("DROP INDEX items_projected_idx")
        cur.execute("ALTER TABLE items ALTER COLUMN projected TYPE vector(3) USING NULL")
        cur.execute("UPDATE items SET projected = pca_project((SELECT pca FROM items_pca), embedding)")
        if have_hnsw:
            cur.execute("CREATE INDEX items_projected_idx ON items "
                        "USING hnsw (projected vector_cosine_ops)")
    conn.commit()
    conn.close()
    dims = node.execute("SELECT DISTINCT vector_dims(projected) FROM items")
    assert dims == [(3,)], dims
    print("projection kept up to date; hnsw index:", have_hnsw)
