#!/usr/bin/python3
"""Images per second of image_embed through SQL: one call per row, and arrays.

Starts a throwaway cluster from SIM_PG_BINDIR (a PostgreSQL installation that
contains the built extension, as test/run prepares), loads the photos into a
table and times, per precision:
  per row:  SELECT image_embed(photo, 'vgg16') FROM photos
  array:    SELECT image_embed(array_agg(photo), 'vgg16') FROM photos
with similarity.batch_size = --batch-size.  The model loads before timing.

  SIM_PG_BINDIR=... /usr/bin/python3 bench/embed/bench_sql.py --photos-dir DIR --model-dir DIR
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "integration"))
from pgcluster import Cluster  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos-dir", required=True)
    parser.add_argument("--model-dir", required=True, help="model folder with vgg16, readable by the server's user")
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    photos = []
    for folder, _, files in sorted(os.walk(args.photos_dir)):
        photos += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".jpg")][:1]
    photos = photos[:args.photos]

    with Cluster("bench-embed").init() as node:
        node.start()
        conn = node.connect()
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION similarity")
        cur.execute("SET similarity.model_dir = %s", (args.model_dir,))
        cur.execute("SET similarity.batch_size = %s", (args.batch_size,))
        cur.execute("CREATE TABLE photos (id int, photo bytea)")
        for i, path in enumerate(photos):
            with open(path, "rb") as f:
                cur.execute("INSERT INTO photos VALUES (%s, %s)", (i, f.read()))

        queries = {
            "per row": "SELECT count(image_embed(photo, 'vgg16')) FROM photos",
            "array": "SELECT cardinality(image_embed(array_agg(photo ORDER BY id), 'vgg16')) FROM photos",
        }
        print(f"{len(photos)} photos, similarity.batch_size = {args.batch_size}, "
              f"median of {args.repeats}")
        print("| precision | form | img/s |")
        print("| --- | --- | --- |")
        for precision in ("fp32", "bf16"):
            cur.execute("SET similarity.precision = %s", (precision,))
            cur.execute(queries["array"])  # load the model outside the timing
            for form, query in queries.items():
                rates = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    cur.execute(query)
                    assert cur.fetchone()[0] == len(photos)
                    rates.append(len(photos) / (time.perf_counter() - start))
                print(f"| {precision} | {form} | {statistics.median(rates):.2f} |")
        conn.close()


if __name__ == "__main__":
    main()
