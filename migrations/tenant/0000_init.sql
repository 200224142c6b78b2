CREATE TABLE `activity_logs` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`user_id` text,
	`actor_type` text NOT NULL,
	`actor_id` text,
	`action` text NOT NULL,
	`resource_type` text NOT NULL,
	`resource_id` text,
	`old_data` text,
	`new_data` text,
	`ip_address` text,
	`user_agent` text,
	`request_id` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "activity_logs_actor_type_check" CHECK("actor_type" IN ('user', 'api_key', 'system', 'webhook', 'ai'))
);
--> statement-breakpoint
CREATE INDEX `activity_logs_org_created_idx` ON `activity_logs` (`organization_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `activity_logs_org_id_idx` ON `activity_logs` (`organization_id`,`id`);--> statement-breakpoint
CREATE INDEX `activity_logs_org_resource_idx` ON `activity_logs` (`organization_id`,`resource_type`,`resource_id`);--> statement-breakpoint
CREATE INDEX `activity_logs_org_user_idx` ON `activity_logs` (`organization_id`,`user_id`);--> statement-breakpoint
CREATE TABLE `ai_conversations` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`user_id` text NOT NULL,
	`title` text,
	`context_type` text DEFAULT 'general' NOT NULL,
	`context_id` text,
	`ai_model` text DEFAULT 'openai_gpt4' NOT NULL,
	`conversation_data` text DEFAULT '[]' NOT NULL,
	`usage_tokens` integer DEFAULT 0 NOT NULL,
	`is_archived` integer DEFAULT false NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "ai_conversations_context_type_check" CHECK("context_type" IN ('general', 'project', 'customer', 'task')),
	CONSTRAINT "ai_conversations_ai_model_check" CHECK("ai_model" IN ('openai_gpt4', 'claude_sonnet', 'gemini')),
	CONSTRAINT "ai_conversations_context_check" CHECK(context_type = 'general' OR context_id IS NOT NULL),
	CONSTRAINT "ai_conversations_data_check" CHECK(json_valid(conversation_data))
);
--> statement-breakpoint
CREATE INDEX `ai_conversations_user_created_idx` ON `ai_conversations` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `ai_conversations_org_id_idx` ON `ai_conversations` (`organization_id`,`id`);--> statement-breakpoint
CREATE TABLE `appointments` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`customer_id` text,
	`assigned_to` text,
	`title` text NOT NULL,
	`description` text,
	`start_time` text NOT NULL,
	`end_time` text NOT NULL,
	`status` text DEFAULT 'scheduled' NOT NULL,
	`location` text,
	`meeting_url` text,
	`reminder_sent` integer DEFAULT false NOT NULL,
	`created_by` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`organization_id`,`customer_id`) REFERENCES `customers`(`organization_id`,`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "appointments_status_check" CHECK("status" IN ('scheduled', 'confirmed', 'completed', 'cancelled', 'no_show')),
	CONSTRAINT "appointments_time_check" CHECK(end_time > start_time)
);
--> statement-breakpoint
CREATE INDEX `appointments_org_start_idx` ON `appointments` (`organization_id`,`start_time`);--> statement-breakpoint
CREATE INDEX `appointments_assignee_start_idx` ON `appointments` (`assigned_to`,`start_time`);--> statement-breakpoint
CREATE INDEX `appointments_customer_idx` ON `appointments` (`customer_id`);--> statement-breakpoint
CREATE TABLE `content` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`title` text NOT NULL,
	`slug` text NOT NULL,
	`content` text DEFAULT '' NOT NULL,
	`html` text DEFAULT '' NOT NULL,
	`excerpt` text,
	`content_type` text DEFAULT 'page' NOT NULL,
	`status` text DEFAULT 'draft' NOT NULL,
	`seo_meta` text DEFAULT '{}' NOT NULL,
	`author_id` text,
	`published_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "content_type_check" CHECK("content_type" IN ('page', 'blog_post', 'documentation', 'template')),
	CONSTRAINT "content_status_check" CHECK("status" IN ('draft', 'published', 'archived')),
	CONSTRAINT "content_seo_meta_check" CHECK(json_valid(seo_meta))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `content_org_slug_unique` ON `content` (`organization_id`,`slug`);--> statement-breakpoint
CREATE INDEX `content_org_status_published_idx` ON `content` (`organization_id`,`status`,`published_at`);--> statement-breakpoint
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
	CONSTRAINT "customers_source_check" CHECK(source IS NULL OR "source" IN ('website', 'referral', 'social_media', 'email', 'phone', 'event', 'advertising', 'other')),
	CONSTRAINT "customers_tags_check" CHECK(json_valid(tags)),
	CONSTRAINT "customers_custom_fields_check" CHECK(json_valid(custom_fields))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `customers_org_id_unique` ON `customers` (`organization_id`,`id`);--> statement-breakpoint
CREATE INDEX `customers_email_idx` ON `customers` (`email`);--> statement-breakpoint
CREATE INDEX `customers_org_status_idx` ON `customers` (`organization_id`,`status`);--> statement-breakpoint
CREATE INDEX `customers_assigned_to_idx` ON `customers` (`assigned_to`);--> statement-breakpoint
CREATE TABLE `projects` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`customer_id` text,
	`name` text NOT NULL,
	`description` text,
	`status` text DEFAULT 'planning' NOT NULL,
	`priority` text DEFAULT 'medium' NOT NULL,
	`start_date` text,
	`due_date` text,
	`completion_date` text,
	`budget` integer,
	`progress_percentage` integer DEFAULT 0 NOT NULL,
	`project_manager_id` text,
	`tags` text DEFAULT '[]' NOT NULL,
	`created_by` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`organization_id`,`customer_id`) REFERENCES `customers`(`organization_id`,`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "projects_status_check" CHECK("status" IN ('planning', 'active', 'on_hold', 'completed', 'cancelled')),
	CONSTRAINT "projects_priority_check" CHECK("priority" IN ('low', 'medium', 'high', 'critical')),
	CONSTRAINT "projects_progress_check" CHECK(progress_percentage BETWEEN 0 AND 100),
	CONSTRAINT "projects_dates_check" CHECK(due_date IS NULL OR start_date IS NULL OR due_date >= start_date)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `projects_org_id_unique` ON `projects` (`organization_id`,`id`);--> statement-breakpoint
CREATE INDEX `projects_customer_idx` ON `projects` (`customer_id`);--> statement-breakpoint
CREATE INDEX `projects_manager_idx` ON `projects` (`project_manager_id`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`project_id` text NOT NULL,
	`parent_task_id` text,
	`title` text NOT NULL,
	`description` text,
	`status` text DEFAULT 'todo' NOT NULL,
	`priority` text DEFAULT 'medium' NOT NULL,
	`assigned_to` text,
	`due_date` text,
	`estimated_hours` integer,
	`actual_hours` integer,
	`tags` text DEFAULT '[]' NOT NULL,
	`position` integer DEFAULT 0 NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`completed_at` text,
	`created_by` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`organization_id`,`project_id`) REFERENCES `projects`(`organization_id`,`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`organization_id`,`project_id`,`parent_task_id`) REFERENCES `tasks`(`organization_id`,`project_id`,`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "tasks_status_check" CHECK("status" IN ('todo', 'in_progress', 'review', 'done', 'cancelled')),
	CONSTRAINT "tasks_priority_check" CHECK("priority" IN ('low', 'medium', 'high', 'critical')),
	CONSTRAINT "tasks_version_check" CHECK(version >= 1)
);
--> statement-breakpoint
CREATE INDEX `tasks_status_assigned_to_idx` ON `tasks` (`status`,`assigned_to`);--> statement-breakpoint
CREATE INDEX `tasks_project_board_idx` ON `tasks` (`project_id`,`status`,`position`);--> statement-breakpoint
CREATE INDEX `tasks_org_assigned_idx` ON `tasks` (`organization_id`,`assigned_to`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_parent_idx` ON `tasks` (`parent_task_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_org_project_id_unique` ON `tasks` (`organization_id`,`project_id`,`id`);--> statement-breakpoint
CREATE TABLE `usage_tracking` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`user_id` text,
	`resource_type` text NOT NULL,
	`resource_name` text DEFAULT '' NOT NULL,
	`quantity` integer DEFAULT 0 NOT NULL,
	`billing_period` text NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "usage_tracking_resource_type_check" CHECK("resource_type" IN ('ai_tokens', 'api_calls', 'storage', 'seats')),
	CONSTRAINT "usage_tracking_period_check" CHECK(billing_period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]')
);
--> statement-breakpoint
CREATE INDEX `usage_tracking_org_period_idx` ON `usage_tracking` (`organization_id`,`billing_period`);