"""The extension's SQL resists a hostile search_path and bad model names.

A role that can create objects in a schema ahead of the extension's on the
search_path must not capture calls made inside the extension's functions,
and a non-superuser must not reach files outside similarity.model_dir.
"""

import psycopg2

from reembed_support import export_tiny_model, model_cluster, temporary_model_dir

model_dir = temporary_model_dir()
model = export_tiny_model(model_dir)

with model_cluster("security", model_dir) as node:
    conn = node.connect()
    cur = conn.cursor()

    # Functions named like the extension's, in a schema searched first.
    cur.execute("CREATE SCHEMA evil")
    cur.execute("""CREATE FUNCTION evil.image_embed(bytea, text) RETURNS vector
                   LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$""")
    cur.execute("""CREATE FUNCTION evil.image_embed(bytea[], text) RETURNS vector[]
                   LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$""")
    cur.execute("SET search_path = evil, public")

    # vgg_embed must call the extension's image_embed: with no vgg16 model
    # registered, that fails with "model not found", not "hijacked".
    for call in ("SELECT vgg_embed('\\x00'::bytea)", "SELECT vgg_embed(ARRAY['\\x00'::bytea])"):
        try:
            cur.execute(call)
            raise AssertionError(f"{call}: succeeded without a vgg16 model")
        except psycopg2.Error as error:
            message = error.diag.message_primary or ""
            print(f"{call}: {error.pgcode} {message}")
            assert "hijacked" not in message, f"{call} ran evil.image_embed"
    cur.execute("RESET search_path")

    # A non-superuser cannot point the server at other files.
    cur.execute("CREATE ROLE app LOGIN")
    cur.execute("SET ROLE app")
    for statement, sqlstate in (
            ("SET similarity.model_dir = '/etc'", "42501"),
            ("SELECT image_embed('\\x00'::bytea, '../../etc/passwd')", "22023"),
            ("SELECT image_embed('\\x00'::bytea, '/etc/passwd')", "22023"),
            ("SELECT similarity_model_info('..')", "22023"),
            ("SELECT pg_read_binary_file('/etc/passwd')", "42501")):
        try:
            cur.execute(statement)
            raise AssertionError(f"{statement}: accepted for a non-superuser")
        except psycopg2.Error as error:
            print(f"{statement}: {error.pgcode} {error.diag.message_primary}")
            assert error.pgcode == sqlstate, (statement, error.pgcode, sqlstate)
    cur.execute("RESET ROLE")
    conn.close()
