-- Shards with a place (issue 16): each SHARD_n binding's region, and whether it takes new
-- organizations. The two shards every deployment had before this are recorded in `enam`; a
-- deployment whose shards sit elsewhere says so with UPDATE shards SET region = … WHERE shard = n
-- (docs/operations/adding-a-shard.md). A row whose SHARD_n the Worker does not bind is never chosen.
CREATE TABLE `shards` (
	`shard` integer PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`open` integer DEFAULT true NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "shards_region_check" CHECK("region" IN ('wnam', 'enam', 'weur', 'eeur', 'apac', 'oc', 'eu')),
	CONSTRAINT "shards_shard_check" CHECK(shard >= 0)
);
--> statement-breakpoint
INSERT INTO `shards` (`shard`, `region`) VALUES (0, 'enam'), (1, 'enam');
