CREATE TABLE `usage_events` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`user_id` text,
	`resource_type` text NOT NULL,
	`resource_name` text DEFAULT '' NOT NULL,
	`quantity` integer NOT NULL,
	`billing_period` text NOT NULL,
	`occurred_at` text NOT NULL,
	`counted_in` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "usage_events_resource_type_check" CHECK("resource_type" IN ('ai_tokens', 'api_calls', 'storage', 'seats')),
	CONSTRAINT "usage_events_period_check" CHECK(billing_period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
	CONSTRAINT "usage_events_quantity_check" CHECK(typeof(quantity) = 'integer')
);
--> statement-breakpoint
CREATE INDEX `usage_events_counted_in_idx` ON `usage_events` (`counted_in`);--> statement-breakpoint
CREATE INDEX `usage_events_org_period_idx` ON `usage_events` (`organization_id`,`billing_period`);--> statement-breakpoint
CREATE UNIQUE INDEX `usage_tracking_aggregate_unique` ON `usage_tracking` (`organization_id`,(CASE WHEN user_id IS NULL THEN '' ELSE user_id END),`resource_type`,`resource_name`,`billing_period`);