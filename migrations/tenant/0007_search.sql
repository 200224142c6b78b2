-- Full-text search (issue 17): an FTS5 index per searched table, its text read from the table
-- itself (external content, by rowid), kept in step by triggers, backfilled here. Tokens are
-- unicode61 words, case and accents folded; prefix indexes serve short `term*` queries.
-- A migration that remakes one of these tables (new rowids, triggers dropped with it) must make its
-- triggers again and rebuild its index: INSERT INTO <table>_fts(<table>_fts) VALUES ('rebuild').
-- The indexes after it let the lists walk (organization_id[, status], id) newest first instead of sorting.
CREATE INDEX `content_org_id_idx` ON `content` (`organization_id`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_org_id_idx` ON `tasks` (`organization_id`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_org_status_id_idx` ON `tasks` (`organization_id`,`status`,`id`);--> statement-breakpoint
CREATE VIRTUAL TABLE `customers_fts` USING fts5(organization_id UNINDEXED, name, email, company, content='customers',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3');
--> statement-breakpoint
INSERT INTO `customers_fts`(`customers_fts`) VALUES ('rebuild');
--> statement-breakpoint
CREATE TRIGGER `customers_fts_insert` AFTER INSERT ON `customers` BEGIN
  INSERT INTO `customers_fts`(rowid, organization_id, name, email, company) VALUES
    (new.rowid, new.organization_id, new.name, new.email, new.company);
END;
--> statement-breakpoint
CREATE TRIGGER `customers_fts_delete` AFTER DELETE ON `customers` BEGIN
  INSERT INTO `customers_fts`(`customers_fts`, rowid, organization_id, name, email, company) VALUES
    ('delete', old.rowid, old.organization_id, old.name, old.email, old.company);
END;
--> statement-breakpoint
CREATE TRIGGER `customers_fts_update` AFTER UPDATE OF organization_id, name, email, company ON `customers` BEGIN
  INSERT INTO `customers_fts`(`customers_fts`, rowid, organization_id, name, email, company) VALUES
    ('delete', old.rowid, old.organization_id, old.name, old.email, old.company);
  INSERT INTO `customers_fts`(rowid, organization_id, name, email, company) VALUES
    (new.rowid, new.organization_id, new.name, new.email, new.company);
END;
--> statement-breakpoint
CREATE VIRTUAL TABLE `content_fts` USING fts5(organization_id UNINDEXED, title, excerpt, content, content='content',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3');
--> statement-breakpoint
INSERT INTO `content_fts`(`content_fts`) VALUES ('rebuild');
--> statement-breakpoint
CREATE TRIGGER `content_fts_insert` AFTER INSERT ON `content` BEGIN
  INSERT INTO `content_fts`(rowid, organization_id, title, excerpt, content) VALUES
    (new.rowid, new.organization_id, new.title, new.excerpt, new.content);
END;
--> statement-breakpoint
CREATE TRIGGER `content_fts_delete` AFTER DELETE ON `content` BEGIN
  INSERT INTO `content_fts`(`content_fts`, rowid, organization_id, title, excerpt, content) VALUES
    ('delete', old.rowid, old.organization_id, old.title, old.excerpt, old.content);
END;
--> statement-breakpoint
CREATE TRIGGER `content_fts_update` AFTER UPDATE OF organization_id, title, excerpt, content ON `content` BEGIN
  INSERT INTO `content_fts`(`content_fts`, rowid, organization_id, title, excerpt, content) VALUES
    ('delete', old.rowid, old.organization_id, old.title, old.excerpt, old.content);
  INSERT INTO `content_fts`(rowid, organization_id, title, excerpt, content) VALUES
    (new.rowid, new.organization_id, new.title, new.excerpt, new.content);
END;
--> statement-breakpoint
CREATE VIRTUAL TABLE `tasks_fts` USING fts5(organization_id UNINDEXED, title, description, content='tasks',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3');
--> statement-breakpoint
INSERT INTO `tasks_fts`(`tasks_fts`) VALUES ('rebuild');
--> statement-breakpoint
CREATE TRIGGER `tasks_fts_insert` AFTER INSERT ON `tasks` BEGIN
  INSERT INTO `tasks_fts`(rowid, organization_id, title, description) VALUES
    (new.rowid, new.organization_id, new.title, new.description);
END;
--> statement-breakpoint
CREATE TRIGGER `tasks_fts_delete` AFTER DELETE ON `tasks` BEGIN
  INSERT INTO `tasks_fts`(`tasks_fts`, rowid, organization_id, title, description) VALUES
    ('delete', old.rowid, old.organization_id, old.title, old.description);
END;
--> statement-breakpoint
CREATE TRIGGER `tasks_fts_update` AFTER UPDATE OF organization_id, title, description ON `tasks` BEGIN
  INSERT INTO `tasks_fts`(`tasks_fts`, rowid, organization_id, title, description) VALUES
    ('delete', old.rowid, old.organization_id, old.title, old.description);
  INSERT INTO `tasks_fts`(rowid, organization_id, title, description) VALUES
    (new.rowid, new.organization_id, new.title, new.description);
END;
