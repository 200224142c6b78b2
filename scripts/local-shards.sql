-- The local shards' regions (migration 0005 records SHARD_0 and SHARD_1 in enam): SHARD_1 stands
-- for western Europe and SHARD_2 for the EU jurisdiction, so that placement by region and EU
-- residency show in dev and tests. Applied by the seed (npm run setup) and test/setup.ts.
UPDATE shards SET region = 'weur' WHERE shard = 1;
INSERT INTO shards (shard, region) VALUES (2, 'eu') ON CONFLICT (shard) DO UPDATE SET region = excluded.region;
