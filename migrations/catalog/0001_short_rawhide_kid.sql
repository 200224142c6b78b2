CREATE TABLE `usage_dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text,
	`event` text NOT NULL,
	`reason` text NOT NULL,
	`attempts` integer NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
