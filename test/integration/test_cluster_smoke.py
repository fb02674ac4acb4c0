"""A throwaway cluster loads the extension and returns the nearest neighbours of a query."""

from pgcluster import Cluster

with Cluster("smoke").init() as node:
    node.start()
    node.execute("CREATE EXTENSION similarity")
    node.execute("CREATE TABLE items (id int, embedding vector(3))")
    node.execute("INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')")
    rows = node.execute("SELECT id FROM items ORDER BY embedding <=> '[1,0,0]' LIMIT 2")
    assert [r[0] for r in rows] == [1, 3], rows
    print("nearest neighbours:", rows)
