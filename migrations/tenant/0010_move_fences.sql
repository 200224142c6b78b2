-- Online moves (issue 16): an organization on its way off this shard has a move_fences row, and
-- these triggers refuse every write of its rows, by whatever path it comes (requests, Durable
-- Objects, queue consumers, the cron): the error names 'strive:organization moving' (db/errors.ts),
-- answered 503 `moving` or retried. The move's own deletes set `releasing` inside their batch.
CREATE TABLE `move_fences` (
	`organization_id` text PRIMARY KEY NOT NULL,
	`move_id` text NOT NULL,
	`releasing` integer DEFAULT false NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE TRIGGER `webhook_events_fence_insert` BEFORE INSERT ON `webhook_events` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_events_fence_update` BEFORE UPDATE ON `webhook_events` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_events_fence_delete` BEFORE DELETE ON `webhook_events` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_deliveries_fence_insert` BEFORE INSERT ON `webhook_deliveries` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_deliveries_fence_update` BEFORE UPDATE ON `webhook_deliveries` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_deliveries_fence_delete` BEFORE DELETE ON `webhook_deliveries` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_endpoints_fence_insert` BEFORE INSERT ON `webhook_endpoints` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_endpoints_fence_update` BEFORE UPDATE ON `webhook_endpoints` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_endpoints_fence_delete` BEFORE DELETE ON `webhook_endpoints` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_sequences_fence_insert` BEFORE INSERT ON `webhook_sequences` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_sequences_fence_update` BEFORE UPDATE ON `webhook_sequences` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `webhook_sequences_fence_delete` BEFORE DELETE ON `webhook_sequences` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `activity_logs_fence_insert` BEFORE INSERT ON `activity_logs` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `activity_logs_fence_update` BEFORE UPDATE ON `activity_logs` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `activity_logs_fence_delete` BEFORE DELETE ON `activity_logs` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `usage_events_fence_insert` BEFORE INSERT ON `usage_events` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `usage_events_fence_update` BEFORE UPDATE ON `usage_events` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `usage_events_fence_delete` BEFORE DELETE ON `usage_events` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `usage_tracking_fence_insert` BEFORE INSERT ON `usage_tracking` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `usage_tracking_fence_update` BEFORE UPDATE ON `usage_tracking` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `usage_tracking_fence_delete` BEFORE DELETE ON `usage_tracking` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `storage_reservations_fence_insert` BEFORE INSERT ON `storage_reservations` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `storage_reservations_fence_update` BEFORE UPDATE ON `storage_reservations` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `storage_reservations_fence_delete` BEFORE DELETE ON `storage_reservations` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `assets_fence_insert` BEFORE INSERT ON `assets` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `assets_fence_update` BEFORE UPDATE ON `assets` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `assets_fence_delete` BEFORE DELETE ON `assets` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `content_fence_insert` BEFORE INSERT ON `content` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `content_fence_update` BEFORE UPDATE ON `content` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `content_fence_delete` BEFORE DELETE ON `content` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `appointment_webhooks_fence_insert` BEFORE INSERT ON `appointment_webhooks` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `appointment_webhooks_fence_update` BEFORE UPDATE ON `appointment_webhooks` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `appointment_webhooks_fence_delete` BEFORE DELETE ON `appointment_webhooks` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `reminders_sent_fence_insert` BEFORE INSERT ON `reminders_sent` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `reminders_sent_fence_update` BEFORE UPDATE ON `reminders_sent` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `reminders_sent_fence_delete` BEFORE DELETE ON `reminders_sent` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `appointments_fence_insert` BEFORE INSERT ON `appointments` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `appointments_fence_update` BEFORE UPDATE ON `appointments` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `appointments_fence_delete` BEFORE DELETE ON `appointments` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `ai_conversations_fence_insert` BEFORE INSERT ON `ai_conversations` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `ai_conversations_fence_update` BEFORE UPDATE ON `ai_conversations` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `ai_conversations_fence_delete` BEFORE DELETE ON `ai_conversations` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `tasks_fence_insert` BEFORE INSERT ON `tasks` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `tasks_fence_update` BEFORE UPDATE ON `tasks` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `tasks_fence_delete` BEFORE DELETE ON `tasks` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `projects_fence_insert` BEFORE INSERT ON `projects` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `projects_fence_update` BEFORE UPDATE ON `projects` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `projects_fence_delete` BEFORE DELETE ON `projects` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `customers_fence_insert` BEFORE INSERT ON `customers` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = NEW.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `customers_fence_update` BEFORE UPDATE ON `customers` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
--> statement-breakpoint
CREATE TRIGGER `customers_fence_delete` BEFORE DELETE ON `customers` WHEN EXISTS
  (SELECT 1 FROM move_fences f WHERE f.organization_id = OLD.organization_id AND NOT f.releasing)
BEGIN SELECT RAISE(ABORT, 'strive:organization moving'); END;
