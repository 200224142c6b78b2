ALTER TABLE `webhook_deliveries` ADD `claim_id` text;--> statement-breakpoint
-- The cron's reminders become events too: it writes a system audit row per reminder it queues.
DROP TRIGGER `webhook_events_outbox`;--> statement-breakpoint
CREATE TRIGGER `webhook_events_outbox` AFTER INSERT ON `activity_logs`
WHEN NEW.action IN ('customer.create', 'customer.update', 'customer.delete', 'project.create', 'project.update',
  'project.delete', 'task.create', 'task.update', 'task.move', 'task.delete', 'content.create', 'content.update',
  'content.delete', 'content.publish', 'content.unpublish', 'content.archive', 'appointment.create',
  'appointment.update', 'appointment.delete', 'appointment.reminder', 'member.create', 'member.update', 'member.delete',
  'conversation.create', 'conversation.delete', 'subscription.update')
  AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.organization_id = NEW.organization_id AND w.status = 'active')
BEGIN
  INSERT INTO webhook_sequences (organization_id, last) VALUES (NEW.organization_id, 1)
    ON CONFLICT (organization_id) DO UPDATE SET last = last + 1;
  INSERT INTO webhook_events (id, organization_id, sequence, type, created_at)
    VALUES (NEW.id, NEW.organization_id,
      (SELECT last FROM webhook_sequences WHERE organization_id = NEW.organization_id), NEW.action, NEW.created_at);
END;
