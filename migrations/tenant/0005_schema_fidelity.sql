-- The seed schema's names and values (issue 12). Every existing row is kept and moved:
-- customers.source 'social_media' → 'social'; usage_tracking.quantity → usage_amount and
-- billing_period 'YYYY-MM' → 'YYYY-MM-01', its metadata filled from the usage_events ledger;
-- appointments.reminder_sent (a flag) → reminders_sent (which reminder went out when, from the
-- reminders_sent ledger); tasks.due_date dates → instants (midnight UTC).
--
-- A changed CHECK means a new table. D1 enforces foreign keys in migrations, and projects and
-- appointments reference customers, so their checks are deferred to this migration's commit.
-- Dropping customers counts each referencing row as a violation, which SQLite settles only as
-- matching rows are inserted into a table of that name: the rows are set aside, the table is
-- made again under its own name and refilled. (drizzle-kit's rename of a new table into place
-- would leave the violations counted, and the commit would fail.)
PRAGMA defer_foreign_keys = on;--> statement-breakpoint
CREATE TABLE `__old_customers` AS SELECT * FROM `customers`;--> statement-breakpoint
DROP TABLE `customers`;--> statement-breakpoint
CREATE TABLE `customers` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`name` text NOT NULL,
	`email` text,
	`phone` text,
	`company` text,
	`status` text DEFAULT 'lead' NOT NULL,
	`source` text,
	`tags` text DEFAULT '[]' NOT NULL,
	`custom_fields` text DEFAULT '{}' NOT NULL,
	`assigned_to` text,
	`notes` text,
	`created_by` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "customers_status_check" CHECK("status" IN ('lead', 'prospect', 'active', 'inactive', 'churned')),
	CONSTRAINT "customers_source_check" CHECK(source IS NULL OR "source" IN ('website', 'referral', 'social', 'email', 'other', 'phone', 'event', 'advertising')),
	CONSTRAINT "customers_tags_check" CHECK(json_valid(tags)),
	CONSTRAINT "customers_custom_fields_check" CHECK(json_valid(custom_fields))
);
--> statement-breakpoint
-- The parent key's index before the rows: the foreign keys find their customer through it.
CREATE UNIQUE INDEX `customers_org_id_unique` ON `customers` (`organization_id`,`id`);--> statement-breakpoint
CREATE INDEX `customers_email_idx` ON `customers` (`email`);--> statement-breakpoint
CREATE INDEX `customers_org_status_idx` ON `customers` (`organization_id`,`status`);--> statement-breakpoint
CREATE INDEX `customers_assigned_to_idx` ON `customers` (`assigned_to`);--> statement-breakpoint
INSERT INTO `customers`("id", "organization_id", "name", "email", "phone", "company", "status", "source", "tags", "custom_fields", "assigned_to", "notes", "created_by", "created_at", "updated_at")
SELECT "id", "organization_id", "name", "email", "phone", "company", "status",
  CASE "source" WHEN 'social_media' THEN 'social' ELSE "source" END,
  "tags", "custom_fields", "assigned_to", "notes", "created_by", "created_at", "updated_at"
FROM `__old_customers`;--> statement-breakpoint
DROP TABLE `__old_customers`;--> statement-breakpoint
CREATE TABLE `__old_usage_tracking` AS SELECT * FROM `usage_tracking`;--> statement-breakpoint
DROP TABLE `usage_tracking`;--> statement-breakpoint
CREATE TABLE `usage_tracking` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`user_id` text,
	`resource_type` text NOT NULL,
	`resource_name` text DEFAULT '' NOT NULL,
	`usage_amount` integer DEFAULT 0 NOT NULL,
	`billing_period` text NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "usage_tracking_resource_type_check" CHECK("resource_type" IN ('ai_tokens', 'api_calls', 'storage', 'seats')),
	CONSTRAINT "usage_tracking_period_check" CHECK(billing_period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-01')
);
--> statement-breakpoint
-- The totals' metadata, as the consumer now keeps it, from the events they were made of (rows
-- with no events behind them keep theirs).
INSERT INTO `usage_tracking`("id", "organization_id", "user_id", "resource_type", "resource_name", "usage_amount", "billing_period", "metadata", "created_at", "updated_at")
SELECT t."id", t."organization_id", t."user_id", t."resource_type", t."resource_name", t."quantity", t."billing_period" || '-01',
  CASE WHEN e.events IS NULL THEN t."metadata"
    ELSE json_patch(t."metadata", json_object('events', e.events, 'first_event_at', e.first_event_at, 'last_event_at', e.last_event_at)) END,
  t."created_at", t."updated_at"
FROM `__old_usage_tracking` t
LEFT JOIN (
  SELECT organization_id, user_id, resource_type, resource_name, billing_period,
    count(*) AS events, min(occurred_at) AS first_event_at, max(occurred_at) AS last_event_at
  FROM usage_events GROUP BY organization_id, user_id, resource_type, resource_name, billing_period
) e ON e.organization_id = t.organization_id AND e.user_id IS t.user_id AND e.resource_type = t.resource_type
  AND e.resource_name = t.resource_name AND e.billing_period = t.billing_period;--> statement-breakpoint
DROP TABLE `__old_usage_tracking`;--> statement-breakpoint
CREATE INDEX `usage_tracking_org_period_idx` ON `usage_tracking` (`organization_id`,`billing_period`);--> statement-breakpoint
CREATE INDEX `usage_tracking_user_idx` ON `usage_tracking` (`user_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `usage_tracking_aggregate_unique` ON `usage_tracking` (`organization_id`,(CASE WHEN user_id IS NULL THEN '' ELSE user_id END),`resource_type`,`resource_name`,`billing_period`);--> statement-breakpoint
ALTER TABLE `appointments` ADD `reminders_sent` text DEFAULT '{"24h":null,"1h":null}' NOT NULL;--> statement-breakpoint
-- What the ledger says went out for each appointment's current start time.
UPDATE `appointments` SET `reminders_sent` = json_patch(`appointments`.`reminders_sent`, (
  SELECT json_group_object(r.reminder_window, r.queued_at) FROM `reminders_sent` r
  WHERE r.organization_id = `appointments`.organization_id AND r.appointment_id = `appointments`.id
    AND r.start_time = `appointments`.start_time AND r.queued_at IS NOT NULL))
WHERE EXISTS (SELECT 1 FROM `reminders_sent` r
  WHERE r.organization_id = `appointments`.organization_id AND r.appointment_id = `appointments`.id
    AND r.start_time = `appointments`.start_time AND r.queued_at IS NOT NULL);--> statement-breakpoint
ALTER TABLE `appointments` DROP COLUMN `reminder_sent`;--> statement-breakpoint
UPDATE `tasks` SET `due_date` = `due_date` || 'T00:00:00.000Z' WHERE length(`due_date`) = 10;--> statement-breakpoint
CREATE INDEX `content_author_idx` ON `content` (`author_id`);--> statement-breakpoint
CREATE INDEX `tasks_created_by_idx` ON `tasks` (`created_by`);
