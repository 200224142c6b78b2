ALTER TABLE `organizations` ADD `stripe_checkout_session_id` text;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `stripe_invoice_created` integer;