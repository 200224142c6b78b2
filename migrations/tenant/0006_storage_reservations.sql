CREATE TABLE `storage_reservations` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`bytes` integer NOT NULL,
	`expires_at` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "storage_reservations_bytes_check" CHECK(bytes > 0)
);
--> statement-breakpoint
CREATE INDEX `storage_reservations_org_expires_idx` ON `storage_reservations` (`organization_id`,`expires_at`);--> statement-breakpoint
CREATE INDEX `assets_org_size_idx` ON `assets` (`organization_id`,`size`);
