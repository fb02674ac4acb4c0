"""pca_fit and pca_project agree with numpy's LAPACK eigensolver.

For each case the same float32 rows go into a table and into numpy
(float64 covariance, numpy.linalg.eigh).  Checked: mean, explained variance
and its ratio (1e-4 relative), components under the sign rule (cosine at
least 0.9999), and projections (per row and array form) with their pairwise
distances.  Cases: random data, low-rank data with n_components equal to
the rank, and data with zero-variance columns.  A last check projects with
two different TOASTed models in one query, so the per-query model cache
must tell them apart.
"""

import io

import numpy as np

from pgcluster import Cluster


def vector_text(row):
    # repr of the float64 value of a float32 is exact, and strtof reads it back.
    return "[" + ",".join(repr(float(x)) for x in row) + "]"


def load(cur, table, x):
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v vector({x.shape[1]}))")
    data = io.StringIO("".join(f"{i}\t{vector_text(row)}\n" for i, row in enumerate(x)))
    cur.copy_expert(f"COPY {table} (id, v) FROM STDIN", data)


def parse_vector(text):
    return np.array([float(x) for x in text.strip("[]").split(",")])


def parse_vector_array(text):
    # '{"[1,2]","[3,4]"}' -> list of arrays
    return [parse_vector(item) for item in text.strip("{}").replace('"', "").split("],[")]


def reference(x, k):
    x64 = x.astype(np.float64)
    cov = np.cov(x64, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:k]
    values, vectors = values[order], vectors[:, order]
    for i in range(k):
        largest = np.argmax(np.abs(vectors[:, i]))
        if vectors[largest, i] < 0:
            vectors[:, i] = -vectors[:, i]
    return x64.mean(axis=0), values, values / np.trace(cov), vectors


def pairwise(points):
    diff = points[:, None, :] - points[None, :, :]
    return np.sqrt((diff ** 2).sum(axis=2))


def check_case(cur, name, x, k):
    load(cur, "rows", x)
    cur.execute(f"CREATE TABLE model_{name} AS SELECT pca_fit(v, {k}) AS model FROM rows")
    cur.execute(f"SELECT pca_dims(model), pca_n_components(model), pca_mean(model)::text, "
                f"pca_explained_variance(model), pca_explained_variance_ratio(model), "
                f"pca_components(model)::text FROM model_{name}")
    dims, n_components, mean, variance, ratio, components = cur.fetchone()
    assert dims == x.shape[1], (name, dims)
    assert n_components == k, (name, n_components)

    ref_mean, ref_variance, ref_ratio, ref_vectors = reference(x, k)
    scale = np.abs(ref_mean).max() + 1.0
    assert np.allclose(parse_vector(mean), ref_mean, rtol=1e-6, atol=1e-6 * scale), name

    variance, ratio = np.array(variance), np.array(ratio)
    floor = 1e-9 * ref_variance[0]
    bad = np.abs(variance - ref_variance) > 1e-4 * ref_variance + floor
    assert not bad.any(), (name, "variance", variance[bad], ref_variance[bad])
    bad = np.abs(ratio - ref_ratio) > 1e-4 * ref_ratio + 1e-9
    assert not bad.any(), (name, "ratio", ratio[bad], ref_ratio[bad])

    for i, component in enumerate(parse_vector_array(components)):
        cosine = component @ ref_vectors[:, i] / np.linalg.norm(component)
        assert cosine >= 0.9999, (name, "component", i, cosine)

    cur.execute(f"SELECT pca_project((SELECT model FROM model_{name}), v)::text "
                "FROM rows ORDER BY id")
    per_row = np.array([parse_vector(r[0]) for r in cur.fetchall()])
    cur.execute(f"SELECT pca_project((SELECT model FROM model_{name}), "
                "array_agg(v ORDER BY id))::text FROM rows")
    array_form = np.array(parse_vector_array(cur.fetchone()[0]))
    assert np.array_equal(per_row, array_form) or np.allclose(per_row, array_form,
                                                              rtol=1e-5, atol=1e-5), name

    expected = (x.astype(np.float64) - ref_mean) @ ref_vectors
    spread = np.abs(expected).max()
    assert np.allclose(per_row, expected, rtol=1e-3, atol=1e-3 * spread), (name, "projection")
    distances, ref_distances = pairwise(per_row), pairwise(expected)
    assert np.allclose(distances, ref_distances, rtol=1e-3,
                       atol=1e-4 * ref_distances.max()), (name, "distances")
    print(f"{name}: {x.shape[0]} x {x.shape[1]} -> {k}, "
          f"variance[0] {variance[0]:.6g} (numpy {ref_variance[0]:.6g})")


def check_two_models(cur):
    """Two TOASTed models in one query must each project with their own values."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((400, 300)) * np.linspace(1, 5, 300)).astype(np.float32)
    load(cur, "wide", x)
    cur.execute("CREATE TABLE two_models (id int, model pca)")
    cur.execute("INSERT INTO two_models SELECT 1, pca_fit(v, 20) FROM wide WHERE id < 200")
    cur.execute("INSERT INTO two_models SELECT 2, pca_fit(v, 20) FROM wide WHERE id >= 200")
    cur.execute("SELECT m.id, w.id, pca_project(m.model, w.v)::text FROM two_models m, "
                "wide w WHERE w.id < 5 ORDER BY w.id, m.id")
    mixed = {(m, w): parse_vector(t) for m, w, t in cur.fetchall()}
    for model_id in (1, 2):
        cur.execute("SELECT w.id, pca_project((SELECT model FROM two_models WHERE id = %s), "
                    "w.v)::text FROM wide w WHERE w.id < 5 ORDER BY w.id", (model_id,))
        for row_id, text in cur.fetchall():
            assert np.array_equal(mixed[(model_id, row_id)], parse_vector(text)), \
                ("model cache confused models", model_id, row_id)
    assert not np.allclose(mixed[(1, 0)], mixed[(2, 0)]), "the two models should differ"
    print("two models in one query: each row projected with its own model")


def main():
    rng = np.random.default_rng(2024)
    cases = []

    # Random data with distinct column scales and a large mean offset.
    scales = np.linspace(0.5, 4.0, 48)
    cases.append(("random", (100.0 + rng.standard_normal((500, 48)) * scales)
                  .astype(np.float32), 12))

    # Rank-6 data; n_components equals the rank.
    latent = rng.standard_normal((400, 6)) * np.array([9, 7, 5, 4, 2.5, 1.5])
    basis = np.linalg.qr(rng.standard_normal((40, 6)))[0].T
    cases.append(("low_rank", (latent @ basis + 3.0).astype(np.float32), 6))

    # A third of the columns never vary, some at zero as after a ReLU.
    x = rng.standard_normal((300, 30)) * np.linspace(1, 3, 30)
    x[:, ::3] = 0.0
    x[:, 1::9] = 2.5
    cases.append(("zero_variance", x.astype(np.float32), 8))

    with Cluster("pca-accuracy").init() as node:
        node.start()
        conn = node.connect()
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION similarity")
        for name, data, k in cases:
            check_case(cur, name, data, k)
        check_two_models(cur)
        conn.close()


if __name__ == "__main__":
    main()
