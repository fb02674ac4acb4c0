-- Schema for the extension's helper objects (re-embedding procedure, status).
-- NOTE: the hnsw fragment creates the same schema; keep only one of the two
-- statements when both fragments are present.
CREATE SCHEMA similarity;
