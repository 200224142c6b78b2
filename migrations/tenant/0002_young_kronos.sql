CREATE TABLE `appointment_webhooks` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`url` text NOT NULL,
	`secret` text NOT NULL,
	`created_by` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "appointment_webhooks_url_check" CHECK(url LIKE 'https://%'),
	CONSTRAINT "appointment_webhooks_id_check" CHECK(id = organization_id)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `appointment_webhooks_org_unique` ON `appointment_webhooks` (`organization_id`);--> statement-breakpoint
CREATE TABLE `reminders_sent` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`appointment_id` text NOT NULL,
	`reminder_window` text NOT NULL,
	`start_time` text NOT NULL,
	`claim_id` text NOT NULL,
	`claimed_at` text NOT NULL,
	`queued_at` text,
	FOREIGN KEY (`organization_id`,`appointment_id`) REFERENCES `appointments`(`organization_id`,`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "reminders_sent_window_check" CHECK("reminder_window" IN ('24h', '1h'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reminders_sent_appointment_window_unique` ON `reminders_sent` (`appointment_id`,`reminder_window`,`start_time`);--> statement-breakpoint
CREATE INDEX `reminders_sent_claim_idx` ON `reminders_sent` (`claim_id`);--> statement-breakpoint
CREATE INDEX `reminders_sent_unqueued_idx` ON `reminders_sent` (`queued_at`,`claimed_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `appointments_org_id_unique` ON `appointments` (`organization_id`,`id`);--> statement-breakpoint
CREATE INDEX `appointments_start_idx` ON `appointments` (`start_time`);