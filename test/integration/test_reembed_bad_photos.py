"""NULL photos are skipped; broken photos are reported, skipped and not retried."""

from reembed_support import (create_photo_table, export_tiny_model, model_cluster,
                             temporary_model_dir, jpeg_bytes)

GOOD = 20
BROKEN = {101: b"this is not an image", 102: jpeg_bytes(7)[:60], 103: b""}
NULLS = [201, 202]

model_dir = temporary_model_dir()
model = export_tiny_model(model_dir)

with model_cluster("bad-photos", model_dir) as node:
    create_photo_table(node, rows=GOOD)
    for row_id, data in BROKEN.items():
        node.execute("INSERT INTO items (id, photo) VALUES (%s, %s)", (row_id, data))
    for row_id in NULLS:
        node.execute("INSERT INTO items (id, photo) VALUES (%s, NULL)", (row_id,))

    conn = node.connect()
    with conn.cursor() as cur:
        cur.execute("CALL similarity.reembed('items', 'photo', 'embedding', model => %s, "
                    "batch_size => 8)", (model,))
    notices = list(conn.notices)
    conn.close()

    run = node.execute("SELECT state, rows_pending, rows_embedded, rows_failed, rows_null_image "
                       "FROM similarity.reembed_status")
    assert run == [("finished", GOOD + len(BROKEN), GOOD, len(BROKEN), len(NULLS))], run

    failures = node.execute("SELECT row_key, sqlstate FROM similarity.reembed_failures ORDER BY row_key")
    assert [key for key, _ in failures] == [f"(id)=({row_id})" for row_id in sorted(BROKEN)], failures
    assert all(state.startswith("22") for _, state in failures), failures
    assert any("skipping row (id)=(101)" in notice for notice in notices), notices

    embedded = node.execute("SELECT id FROM items WHERE embedding IS NOT NULL ORDER BY id")
    assert [row_id for (row_id,) in embedded] == list(range(1, GOOD + 1)), embedded

    # The failures are remembered: a new run has nothing to do.
    node.execute("CALL similarity.reembed('items', 'photo', 'embedding', model => %s)", (model,))
    again = node.execute("SELECT rows_pending, rows_failed FROM similarity.reembed_status "
                         "ORDER BY run_id DESC LIMIT 1")
    assert again == [(0, 0)], again

    # retry_failed => true tries them once more; they fail again.
    node.execute("CALL similarity.reembed('items', 'photo', 'embedding', model => %s, "
                 "retry_failed => true)", (model,))
    retry = node.execute("SELECT rows_pending, rows_failed FROM similarity.reembed_status "
                         "ORDER BY run_id DESC LIMIT 1")
    assert retry == [(len(BROKEN), len(BROKEN))], retry
    print("failures:", failures)
