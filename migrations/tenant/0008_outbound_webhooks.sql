CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`endpoint_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`sequence` integer,
	`trigger` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`claimed_until` text,
	`next_attempt_at` text NOT NULL,
	`first_attempt_at` text,
	`last_attempt_at` text,
	`response_status` integer,
	`response_body` text,
	`latency_ms` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`organization_id`,`endpoint_id`) REFERENCES `webhook_endpoints`(`organization_id`,`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "webhook_deliveries_status_check" CHECK("status" IN ('pending', 'sending', 'succeeded', 'failed')),
	CONSTRAINT "webhook_deliveries_trigger_check" CHECK("trigger" IN ('event', 'replay', 'test'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_deliveries_event_unique` ON `webhook_deliveries` (`endpoint_id`,`event_id`) WHERE "trigger" = 'event';--> statement-breakpoint
CREATE INDEX `webhook_deliveries_endpoint_idx` ON `webhook_deliveries` (`organization_id`,`endpoint_id`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_sending_idx` ON `webhook_deliveries` (`endpoint_id`,`status`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_stale_idx` ON `webhook_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`url` text NOT NULL,
	`description` text,
	`event_types` text,
	`status` text DEFAULT 'active' NOT NULL,
	`paused_reason` text,
	`secret` text NOT NULL,
	`previous_secret` text,
	`previous_secret_expires_at` text,
	`failing_since` text,
	`created_by` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "webhook_endpoints_url_check" CHECK(url LIKE 'https://%'),
	CONSTRAINT "webhook_endpoints_status_check" CHECK("status" IN ('active', 'paused'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_endpoints_org_id_unique` ON `webhook_endpoints` (`organization_id`,`id`);--> statement-breakpoint
CREATE TABLE `webhook_events` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`sequence` integer NOT NULL,
	`type` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`dispatched_at` text,
	FOREIGN KEY (`id`) REFERENCES `activity_logs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_events_org_sequence_unique` ON `webhook_events` (`organization_id`,`sequence`);--> statement-breakpoint
CREATE INDEX `webhook_events_undispatched_idx` ON `webhook_events` (`dispatched_at`,`organization_id`);--> statement-breakpoint
CREATE TABLE `webhook_sequences` (
	`organization_id` text PRIMARY KEY NOT NULL,
	`last` integer NOT NULL
);
--> statement-breakpoint
-- The outbox: every audited change of a type an integration may subscribe to (the list is
-- src/modules/outbound-webhooks/events.ts EVENT_TYPES, checked by a test) becomes an event in the
-- statement that writes its audit row, numbered per organization, while the organization has an
-- active endpoint.
CREATE TRIGGER `webhook_events_outbox` AFTER INSERT ON `activity_logs`
WHEN NEW.action IN ('customer.create', 'customer.update', 'customer.delete', 'project.create', 'project.update',
  'project.delete', 'task.create', 'task.update', 'task.move', 'task.delete', 'content.create', 'content.update',
  'content.delete', 'content.publish', 'content.unpublish', 'content.archive', 'appointment.create',
  'appointment.update', 'appointment.delete', 'member.create', 'member.update', 'member.delete',
  'conversation.create', 'conversation.delete', 'subscription.update')
  AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.organization_id = NEW.organization_id AND w.status = 'active')
BEGIN
  INSERT INTO webhook_sequences (organization_id, last) VALUES (NEW.organization_id, 1)
    ON CONFLICT (organization_id) DO UPDATE SET last = last + 1;
  INSERT INTO webhook_events (id, organization_id, sequence, type, created_at)
    VALUES (NEW.id, NEW.organization_id,
      (SELECT last FROM webhook_sequences WHERE organization_id = NEW.organization_id), NEW.action, NEW.created_at);
END;
