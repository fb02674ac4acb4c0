"""Two overlapping reembed runs split the rows instead of embedding them twice."""

import time

from reembed_support import (BackgroundCall, create_photo_table, export_tiny_model,
                             model_cluster, temporary_model_dir)

ROWS = 48

model_dir = temporary_model_dir()
model = export_tiny_model(model_dir)

with model_cluster("overlap", model_dir) as node:
    create_photo_table(node, rows=ROWS)
    # Make the column first, so both runs see it and neither adds it.
    node.execute("ALTER TABLE items ADD COLUMN embedding_model_version text")

    statement = (f"CALL similarity.reembed('items', 'photo', 'embedding', model => '{model}', "
                 f"batch_size => 4, batch_delay => '0.2 s')")
    first = BackgroundCall(node, statement).start()
    deadline = time.time() + 60
    while not node.execute("SELECT count(*) FROM similarity.reembed_status WHERE batches > 0")[0][0]:
        assert time.time() < deadline, "the first run embedded nothing within 60 s"
        time.sleep(0.05)
    second = BackgroundCall(node, statement).start()
    second_notices = second.join()
    first.join()
    assert first.error is None, first.error
    assert second.error is None, second.error

    runs = node.execute("SELECT run_id, state, rows_embedded FROM similarity.reembed_status "
                        "ORDER BY run_id")
    assert len(runs) == 2, runs
    assert all(state == "finished" for _, state, _ in runs), runs
    assert sum(embedded for _, _, embedded in runs) == ROWS, runs
    assert all(embedded > 0 for _, _, embedded in runs), f"one run did all the work: {runs}"
    assert any("is still working on" in notice for notice in second_notices), second_notices

    rows = node.execute("SELECT count(*), count(embedding) FROM items")
    assert rows == [(ROWS, ROWS)], rows
    print("runs:", runs)
