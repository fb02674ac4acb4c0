"""A cancelled reembed run keeps its committed batches; a rerun finishes the rest."""

import time

from reembed_support import (BackgroundCall, create_photo_table, export_tiny_model,
                             model_cluster, temporary_model_dir)

ROWS = 60
BATCH = 4

model_dir = temporary_model_dir()
model = export_tiny_model(model_dir)

with model_cluster("resume", model_dir) as node:
    create_photo_table(node, rows=ROWS)

    # A delay between batches makes the run slow enough to cancel mid-way.
    call = BackgroundCall(node, f"CALL similarity.reembed('items', 'photo', 'embedding', "
                                f"model => '{model}', batch_size => {BATCH}, "
                                f"batch_delay => '0.3 s')").start()
    deadline = time.time() + 120
    while time.time() < deadline:
        batches = node.execute("SELECT coalesce(max(batches), 0) FROM similarity.reembed_status")[0][0]
        if batches >= 3:
            break
        time.sleep(0.05)
    assert node.execute("SELECT pg_cancel_backend(%s)", (call.pid,))[0][0]
    call.join()
    assert call.error is not None, "the cancelled CALL returned without an error"
    assert call.error.pgcode == "57014", (call.error.pgcode, str(call.error))

    first = node.execute("SELECT run_id, state, rows_embedded, batches FROM similarity.reembed_status")
    assert len(first) == 1, first
    first_run, state, first_embedded, first_batches = first[0]
    assert state == "interrupted", state
    assert first_embedded == first_batches * BATCH, first
    assert 0 < first_embedded < ROWS, first

    # Rows committed by the first run, with the transaction that wrote them.
    done = dict(node.execute("SELECT id, xmin::text FROM items WHERE embedding IS NOT NULL"))
    assert len(done) == first_embedded, (len(done), first_embedded)

    node.execute(f"CALL similarity.reembed('items', 'photo', 'embedding', "
                 f"model => '{model}', batch_size => {BATCH})")

    second = node.execute("SELECT state, rows_pending, rows_embedded FROM similarity.reembed_status "
                          "WHERE run_id > %s", (first_run,))
    assert second == [("finished", ROWS - first_embedded, ROWS - first_embedded)], second

    rows = node.execute("SELECT count(*), count(embedding), count(DISTINCT embedding_model_version) "
                        "FROM items")
    assert rows == [(ROWS, ROWS, 1)], rows

    after = dict(node.execute("SELECT id, xmin::text FROM items WHERE id = ANY(%s)", (list(done),)))
    assert after == done, "the rerun rewrote rows that the cancelled run had committed"

    # A third run finds nothing to do.
    node.execute(f"CALL similarity.reembed('items', 'photo', 'embedding', model => '{model}')")
    third = node.execute("SELECT rows_pending, rows_embedded FROM similarity.reembed_status "
                         "ORDER BY run_id DESC LIMIT 1")
    assert third == [(0, 0)], third
    print(f"cancelled after {first_embedded} rows, rerun embedded {ROWS - first_embedded}")
