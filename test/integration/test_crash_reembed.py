"""kill -9 of the server during a reembed run loses no committed batch.

After the restart, every embedding that a client had seen committed is
still there, the interrupted run does not block a new one, and the rerun
embeds exactly the rows that were left.
"""

import time

from reembed_support import (BackgroundCall, create_photo_table, export_tiny_model,
                             model_cluster, temporary_model_dir)

ROWS = 80
BATCH = 4

model_dir = temporary_model_dir()
model = export_tiny_model(model_dir)

with model_cluster("crash-reembed", model_dir) as node:
    create_photo_table(node, rows=ROWS)
    reembed = (f"CALL similarity.reembed('items', 'photo', 'embedding', "
               f"model => '{model}', batch_size => {BATCH}")

    call = BackgroundCall(node, reembed + ", batch_delay => '0.2 s')").start()
    committed = {}
    deadline = time.time() + 120
    while time.time() < deadline and len(committed) < 5 * BATCH:
        committed = dict(node.execute("SELECT id, embedding::text FROM items "
                                      "WHERE embedding IS NOT NULL"))
        time.sleep(0.05)
    assert len(committed) >= 5 * BATCH, f"only {len(committed)} rows embedded in time"

    node.kill9()
    call.join()
    assert call.error is not None, "the CALL survived the server's death"
    node.start()

    after = dict(node.execute("SELECT id, embedding::text FROM items WHERE embedding IS NOT NULL"))
    lost = [row_id for row_id, value in committed.items() if after.get(row_id) != value]
    assert not lost, f"committed embeddings lost or changed by the crash: {lost}"
    assert len(after) % BATCH == 0, f"{len(after)} rows embedded: a batch was torn"
    assert len(after) < ROWS, "the run finished before the crash; the test proves nothing"

    node.execute(reembed + ")")
    rows = node.execute("SELECT count(*), count(embedding), count(DISTINCT embedding_model_version) "
                        "FROM items")
    assert rows == [(ROWS, ROWS, 1)], rows
    last = node.execute("SELECT state, rows_embedded FROM similarity.reembed_status "
                        "ORDER BY run_id DESC LIMIT 1")
    assert last == [("finished", ROWS - len(after))], last
    print(f"RESULT: killed after {len(after)} of {ROWS} rows; the rerun embedded the other "
          f"{ROWS - len(after)}")
