"""pg_cron runs similarity.reembed on a schedule; overlapping jobs split the work.

pg_cron 1.4 (Debian 12) schedules at minute granularity, so the jobs first
run at the next full minute and the test waits up to 150 seconds."""

import time

from reembed_support import (create_photo_table, export_tiny_model, model_cluster,
                             temporary_model_dir)

ROWS = 40

model_dir = temporary_model_dir()
model = export_tiny_model(model_dir)

settings = {
    "shared_preload_libraries": "'pg_cron'",
    "cron.database_name": "'postgres'",
    "max_worker_processes": "16",
}
with model_cluster("cron", model_dir, settings) as node:
    # pg_cron connects with libpq; point it at the cluster's own socket.
    node.write_settings({"cron.host": f"'{node.socketdir}'"})
    node.restart()
    node.execute("CREATE EXTENSION pg_cron")
    create_photo_table(node, rows=ROWS)

    # Two jobs on the same schedule start together and overlap.
    command = (f"CALL similarity.reembed('items', 'photo', 'embedding', model => '{model}', "
               f"batch_size => 4, batch_delay => '0.2 s')")
    for name in ("reembed-a", "reembed-b"):
        node.execute("SELECT cron.schedule(%s, '* * * * *', %s)", (name, command))

    deadline = time.time() + 150
    while time.time() < deadline:
        finished = node.execute("SELECT count(*) FROM similarity.reembed_status "
                                "WHERE state = 'finished'")[0][0]
        if finished >= 2:
            break
        time.sleep(1)
    details = node.execute("SELECT j.jobname, d.status, d.return_message "
                           "FROM cron.job_run_details d JOIN cron.job j USING (jobid) "
                           "ORDER BY d.runid")
    for name in ("reembed-a", "reembed-b"):
        node.execute("SELECT cron.unschedule(%s)", (name,))

    print("job runs:", details)
    assert len(details) >= 2, details
    assert all(status == "succeeded" for _, status, _ in details[:2]), details

    rows = node.execute("SELECT count(*), count(embedding), count(embedding_model_version) FROM items")
    assert rows == [(ROWS, ROWS, ROWS)], rows

    runs = node.execute("SELECT run_id, state, rows_embedded, started_at, finished_at "
                        "FROM similarity.reembed_status ORDER BY run_id")
    print("reembed runs:", runs)
    assert sum(embedded for _, _, embedded, _, _ in runs) == ROWS, runs
    # The first two runs ran at the same time.
    (_, _, _, start_a, end_a), (_, _, _, start_b, end_b) = runs[:2]
    assert start_b < end_a, "the second run started after the first had finished"
    assert start_a < end_b, "the first run started after the second had finished"
