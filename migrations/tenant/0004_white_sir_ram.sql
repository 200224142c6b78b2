DROP INDEX `content_org_status_published_idx`;--> statement-breakpoint
CREATE INDEX `content_org_status_published_id_idx` ON `content` (`organization_id`,`status`,`published_at`,`id`);