-- Online moves of an organization between shards (issue 16): each move is a row, advanced one
-- bounded step at a time from its recorded phase and cursor (src/modules/platform/moves.ts); at
-- most one move per organization is under way (the partial unique index).
CREATE TABLE `organization_moves` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`from_shard` integer NOT NULL,
	`to_shard` integer NOT NULL,
	`phase` text DEFAULT 'requested' NOT NULL,
	`cursor` text DEFAULT '{"unit":0,"after":null}' NOT NULL,
	`checks` text DEFAULT '{}' NOT NULL,
	`steps` integer DEFAULT 0 NOT NULL,
	`error` text,
	`started_by` text,
	`fenced_at` text,
	`flipped_at` text,
	`finished_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`started_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "organization_moves_phase_check" CHECK("phase" IN ('requested', 'fenced', 'copying', 'verifying', 'verified', 'flipped', 'cleaning', 'cleaned', 'rolling_back', 'rolled_back')),
	CONSTRAINT "organization_moves_shards_check" CHECK(from_shard >= 0 AND to_shard >= 0 AND from_shard <> to_shard)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `organization_moves_active_unique` ON `organization_moves` (`organization_id`) WHERE "phase" NOT IN ('cleaned', 'rolled_back');
