// Use the npm packages `pg` and `pgvector` (pgvector's Node.js client),
// unchanged, against a database with the similarity extension.  Vectors are
// written and read in text form (pgvector's toSql and its registered type
// parser) and in binary form (binary parameters and binary COPY through
// pg-copy-streams).  Connection settings come from the PG* environment
// variables.  Exits non-zero on the first failed check.
'use strict';

const assert = require('node:assert/strict');
const { Readable } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const pg = require('pg');
const copyStreams = require('pg-copy-streams');
const pgvector = require('pgvector/pg');

// Encode a vector in the binary format that vector_recv reads: int16
// dimensions, int16 zero, then float4 values, all big-endian.
function encodeVector(values) {
  const buffer = Buffer.alloc(4 + 4 * values.length);
  buffer.writeInt16BE(values.length, 0);
  buffer.writeInt16BE(0, 2);
  values.forEach((value, i) => buffer.writeFloatBE(value, 4 + 4 * i));
  return buffer;
}

// Decode the binary format that vector_send writes.
function decodeVector(buffer) {
  const dimensions = buffer.readInt16BE(0);
  assert.equal(buffer.readInt16BE(2), 0, 'unused field of a binary vector');
  assert.equal(buffer.length, 4 + 4 * dimensions, 'length of a binary vector');
  const values = [];
  for (let i = 0; i < dimensions; i++) {
    values.push(buffer.readFloatBE(4 + 4 * i));
  }
  return values;
}

// Round each value to float4, the precision a vector stores.
function asFloat4(values) {
  return values.map((value) => Math.fround(value));
}

// Deterministic pseudo-random values in [-1, 1).
function pseudoRandomValues(count, seed) {
  const values = [];
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    values.push(state / 1073741824 - 1);
  }
  return values;
}

async function checkTextForm(client) {
  await client.query('CREATE TABLE text_items (id integer PRIMARY KEY, embedding vector(3))');
  const rows = [[1, [1, 2, 3]], [2, [-1.5, 0.25, 1e-7]], [3, [0.1, 0.2, 0.3]], [4, null]];
  for (const [id, embedding] of rows) {
    await client.query('INSERT INTO text_items VALUES ($1, $2)', [id, pgvector.toSql(embedding)]);
  }

  const result = await client.query('SELECT id, embedding FROM text_items ORDER BY id');
  assert.equal(result.rows.length, rows.length);
  // The text form is the shortest decimal that reads back as the same
  // float4, so compare after rounding both sides to float4.
  result.rows.forEach((row, i) => {
    const expected = rows[i][1];
    const actual = row.embedding === null ? null : asFloat4(row.embedding);
    assert.deepEqual(actual, expected === null ? null : asFloat4(expected),
                     `text round trip of row ${row.id}`);
  });

  const nearest = await client.query(
    'SELECT id FROM text_items ORDER BY embedding <-> $1 LIMIT 2', [pgvector.toSql([1, 2, 4])]);
  assert.deepEqual(nearest.rows.map((row) => row.id), [1, 3], 'L2 nearest neighbours');

  const cosine = await client.query(
    'SELECT id FROM text_items ORDER BY embedding <=> $1 LIMIT 1', [pgvector.toSql([2, 4, 6])]);
  assert.equal(cosine.rows[0].id, 1, 'cosine nearest neighbour');

  // The column's type modifier rejects a vector of another length.
  await assert.rejects(
    client.query('INSERT INTO text_items VALUES (5, $1)', [pgvector.toSql([1, 2])]),
    (error) => error.code === '22000' && error.message === 'expected 3 dimensions, not 2');
  await assert.rejects(
    client.query('SELECT $1::vector', ['[1,2']),
    (error) => error.code === '22P02');
  console.log('text form: ok');
}

// Build a binary COPY stream with one vector column.
function encodeCopy(vectors) {
  const parts = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const values of vectors) {
    const field = encodeVector(values);
    const header = Buffer.alloc(6);
    header.writeInt16BE(1, 0);
    header.writeInt32BE(field.length, 2);
    parts.push(header, field);
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

// Split a binary COPY stream into rows of raw field buffers.
function decodeCopy(data) {
  assert.equal(data.subarray(0, 11).toString('latin1'), 'PGCOPY\n\xff\r\n\0', 'COPY signature');
  // Signature, int32 flags, then an int32 header extension length.
  let offset = 19 + data.readInt32BE(15);
  const rows = [];
  for (;;) {
    const fieldCount = data.readInt16BE(offset);
    offset += 2;
    if (fieldCount === -1) {
      break;
    }
    const fields = [];
    for (let i = 0; i < fieldCount; i++) {
      const length = data.readInt32BE(offset);
      offset += 4;
      fields.push(length === -1 ? null : data.subarray(offset, offset + length));
      offset += Math.max(length, 0);
    }
    rows.push(fields);
  }
  return rows;
}

async function copyOut(client, statement) {
  const chunks = [];
  await pipeline(client.query(copyStreams.to(statement)), async function* (source) {
    for await (const chunk of source) {
      chunks.push(chunk);
    }
  });
  return Buffer.concat(chunks);
}

async function copyIn(client, statement, data) {
  await pipeline(Readable.from([data]), client.query(copyStreams.from(statement)));
}

// NOTE: pg 8.23 decodes every result column as UTF-8 text, even when a
// query requests binary results, so bytes of 0x80 and above come back
// corrupted.  Binary results are therefore read through binary COPY, where
// the server runs the same vector_send, and binary input uses pg's Buffer
// parameters (sent in binary format) and binary COPY.
async function checkBinaryForm(client) {
  await client.query('CREATE TABLE binary_items (id integer PRIMARY KEY, embedding vector)');
  const large = pseudoRandomValues(4096, 7);
  const rows = [[1, [1, 2, 3]], [2, [-0.5, 3e38, 1e-45]], [3, large],
                [4, pseudoRandomValues(4096, 11)]];

  // A Buffer parameter goes over the wire in binary format, so the server
  // reads it with vector_recv.
  for (const [id, embedding] of rows) {
    await client.query('INSERT INTO binary_items VALUES ($1, $2)', [id, encodeVector(embedding)]);
  }

  // Binary COPY output carries vector_send's bytes unchanged.
  const copied = decodeCopy(await copyOut(
    client, 'COPY (SELECT embedding FROM binary_items ORDER BY id) TO STDOUT (FORMAT binary)'));
  assert.equal(copied.length, rows.length);
  copied.forEach((fields, i) => {
    assert.deepEqual(decodeVector(fields[0]), asFloat4(rows[i][1]), `binary read of row ${i + 1}`);
  });
  assert.equal(copied[0][0].toString('hex'), '000300003f8000004000000040400000',
               'binary form of [1,2,3]');

  // vector_send called as a function returns the same bytes as bytea.
  const sent = await client.query('SELECT vector_send(embedding) AS bytes FROM binary_items WHERE id = $1', [3]);
  assert.ok(sent.rows[0].bytes.equals(encodeVector(large)), 'vector_send of a 4096-d vector');

  // Text reads of binary writes go through pgvector's type parser.
  const text = await client.query('SELECT embedding FROM binary_items WHERE id = $1', [3]);
  assert.deepEqual(asFloat4(text.rows[0].embedding), asFloat4(large),
                   'text read of a binary write');

  // Binary COPY input also runs vector_recv.
  await client.query('CREATE TABLE copied_items (embedding vector(3))');
  await copyIn(client, 'COPY copied_items FROM STDIN (FORMAT binary)',
               encodeCopy([[4, 5, 6], [-1, 0.5, 2]]));
  const loaded = await client.query('SELECT embedding FROM copied_items ORDER BY embedding');
  assert.deepEqual(loaded.rows.map((row) => row.embedding), [[-1, 0.5, 2], [4, 5, 6]],
                   'binary COPY input');
  await assert.rejects(
    copyIn(client, 'COPY copied_items FROM STDIN (FORMAT binary)', encodeCopy([[1, 2]])),
    (error) => error.code === '22000' && error.message === 'expected 3 dimensions, not 2');

  // Binary input is validated like text input.
  const badUnused = encodeVector([1]);
  badUnused.writeInt16BE(1, 2);
  await assert.rejects(
    client.query('INSERT INTO binary_items VALUES (9, $1)', [badUnused]),
    (error) => error.code === '22000' && error.message === 'expected unused to be 0, not 1');
  await assert.rejects(
    client.query('INSERT INTO binary_items VALUES (9, $1)', [encodeVector([NaN])]),
    (error) => error.code === '22000' && error.message === 'NaN not allowed in vector');
  await assert.rejects(
    client.query('INSERT INTO binary_items VALUES (9, $1)', [encodeVector([1, 2]).subarray(0, 8)]),
    (error) => error.code === '08P01');

  // A nearest-neighbour query with a binary query vector.
  const nearest = await client.query(
    'SELECT id FROM binary_items WHERE vector_dims(embedding) = 4096 ' +
    'ORDER BY embedding <-> $1 LIMIT 1', [encodeVector(large)]);
  assert.equal(nearest.rows[0].id, 3, 'nearest neighbour of a binary query vector');
  console.log('binary form: ok');
}

async function main() {
  const client = new pg.Client();
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS similarity');
    await pgvector.registerTypes(client);
    await checkTextForm(client);
    await checkBinaryForm(client);
  } finally {
    await client.end();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
