-- The demo's table, one row per product photo.  scripts/demo runs this file,
-- loads the photos with scripts/load-photos, then runs demo-pipeline.sql.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS similarity;

DROP SCHEMA IF EXISTS similarity_demo CASCADE;
CREATE SCHEMA similarity_demo;

CREATE TABLE similarity_demo.products (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category text NOT NULL,
    path text NOT NULL,        -- where the photo came from, for the contact sheet
    photo bytea,
    features vector,           -- model output: 4096-d for VGG16, 1280-d for MobileNetV2
    features_model_version text  -- model version of features, kept by similarity.reembed
);
