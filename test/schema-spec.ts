// The data model Strive was specified from, written down once as data: every table of the schema
// document with its columns, their types and enum values, and the index plan. The fidelity test
// checks the migrated databases and the served OpenAPI document against it, so a renamed column,
// a refused enum value or a missing index fails there. Strive's additions are listed in
// src/db/schema-additions.ts; this file holds the specification only, spelled as it was given.

export type ColumnType =
  'uuid' | 'string' | 'text' | 'jsonb' | 'timestamp' | 'date' | 'decimal' | 'integer' | 'boolean' | 'inet' | 'string[]';

export type Column = { type: ColumnType; enum?: readonly string[] };

export type TableSpec = {
  /** Which database holds it: the catalog, or every tenant shard. */
  home: 'catalog' | 'shard';
  /** The OpenAPI component a client reads its rows as. */
  component: string;
  columns: Record<string, Column>;
};

const TIERS = ['free', 'basic', 'pro', 'enterprise'] as const;
const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;

export const SCHEMA: Record<string, TableSpec> = {
  users: {
    home: 'catalog',
    component: 'User',
    columns: {
      id: { type: 'uuid' },
      clerk_user_id: { type: 'string' },
      email: { type: 'string' },
      name: { type: 'string' },
      avatar_url: { type: 'string' },
      role: { type: 'string', enum: ['admin', 'moderator', 'employee', 'client'] },
      subscription_tier: { type: 'string', enum: TIERS },
      is_active: { type: 'boolean' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  organizations: {
    home: 'catalog',
    component: 'Organization',
    columns: {
      id: { type: 'uuid' },
      name: { type: 'string' },
      slug: { type: 'string' },
      description: { type: 'text' },
      settings: { type: 'jsonb' },
      subscription_status: { type: 'string', enum: ['active', 'inactive', 'trial'] },
      billing_email: { type: 'string' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  organization_members: {
    home: 'catalog',
    component: 'Member',
    columns: {
      id: { type: 'uuid' },
      user_id: { type: 'uuid' },
      organization_id: { type: 'uuid' },
      role: { type: 'string', enum: ['owner', 'admin', 'member', 'viewer'] },
      permissions: { type: 'jsonb' },
      joined_at: { type: 'timestamp' },
      created_at: { type: 'timestamp' },
    },
  },
  customers: {
    home: 'shard',
    component: 'Customer',
    columns: {
      id: { type: 'uuid' },
      organization_id: { type: 'uuid' },
      name: { type: 'string' },
      email: { type: 'string' },
      phone: { type: 'string' },
      company: { type: 'string' },
      status: { type: 'string', enum: ['lead', 'prospect', 'active', 'churned'] },
      source: { type: 'string', enum: ['website', 'referral', 'social', 'email', 'other'] },
      tags: { type: 'string[]' },
      custom_fields: { type: 'jsonb' },
      assigned_to: { type: 'uuid' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  projects: {
    home: 'shard',
    component: 'Project',
    columns: {
      id: { type: 'uuid' },
      organization_id: { type: 'uuid' },
      customer_id: { type: 'uuid' },
      name: { type: 'string' },
      description: { type: 'text' },
      status: { type: 'string', enum: ['planning', 'active', 'on_hold', 'completed', 'cancelled'] },
      priority: { type: 'string', enum: PRIORITIES },
      start_date: { type: 'date' },
      due_date: { type: 'date' },
      completion_date: { type: 'date' },
      budget: { type: 'decimal' },
      progress_percentage: { type: 'integer' },
      project_manager_id: { type: 'uuid' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  tasks: {
    home: 'shard',
    component: 'Task',
    columns: {
      id: { type: 'uuid' },
      project_id: { type: 'uuid' },
      parent_task_id: { type: 'uuid' },
      title: { type: 'string' },
      description: { type: 'text' },
      status: { type: 'string', enum: ['todo', 'in_progress', 'review', 'done', 'cancelled'] },
      priority: { type: 'string', enum: PRIORITIES },
      assigned_to: { type: 'uuid' },
      created_by: { type: 'uuid' },
      due_date: { type: 'timestamp' },
      estimated_hours: { type: 'decimal' },
      actual_hours: { type: 'decimal' },
      tags: { type: 'string[]' },
      position: { type: 'integer' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  ai_conversations: {
    home: 'shard',
    component: 'Conversation',
    columns: {
      id: { type: 'uuid' },
      user_id: { type: 'uuid' },
      organization_id: { type: 'uuid' },
      title: { type: 'string' },
      context_type: { type: 'string', enum: ['general', 'project', 'customer', 'task'] },
      context_id: { type: 'uuid' },
      ai_model: { type: 'string', enum: ['openai_gpt4', 'claude_sonnet', 'gemini'] },
      conversation_data: { type: 'jsonb' },
      usage_tokens: { type: 'integer' },
      is_archived: { type: 'boolean' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  ai_tools: {
    home: 'catalog',
    component: 'AiTool',
    columns: {
      id: { type: 'uuid' },
      name: { type: 'string' },
      description: { type: 'text' },
      tool_type: { type: 'string', enum: ['chatbot', 'analysis', 'automation', 'integration'] },
      required_tier: { type: 'string', enum: ['basic', 'pro', 'enterprise'] },
      configuration: { type: 'jsonb' },
      is_active: { type: 'boolean' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  subscriptions: {
    home: 'catalog',
    component: 'Subscription',
    columns: {
      id: { type: 'uuid' },
      organization_id: { type: 'uuid' },
      stripe_subscription_id: { type: 'string' },
      stripe_customer_id: { type: 'string' },
      status: { type: 'string', enum: ['active', 'past_due', 'cancelled', 'unpaid'] },
      tier: { type: 'string', enum: TIERS },
      current_period_start: { type: 'timestamp' },
      current_period_end: { type: 'timestamp' },
      cancel_at_period_end: { type: 'boolean' },
      metadata: { type: 'jsonb' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  usage_tracking: {
    home: 'shard',
    component: 'Usage',
    columns: {
      id: { type: 'uuid' },
      organization_id: { type: 'uuid' },
      user_id: { type: 'uuid' },
      resource_type: { type: 'string', enum: ['ai_tokens', 'api_calls', 'storage', 'seats'] },
      resource_name: { type: 'string' },
      usage_amount: { type: 'integer' },
      billing_period: { type: 'date' },
      metadata: { type: 'jsonb' },
      created_at: { type: 'timestamp' },
    },
  },
  appointments: {
    home: 'shard',
    component: 'Appointment',
    columns: {
      id: { type: 'uuid' },
      organization_id: { type: 'uuid' },
      customer_id: { type: 'uuid' },
      assigned_to: { type: 'uuid' },
      title: { type: 'string' },
      description: { type: 'text' },
      start_time: { type: 'timestamp' },
      end_time: { type: 'timestamp' },
      status: { type: 'string', enum: ['scheduled', 'confirmed', 'completed', 'cancelled', 'no_show'] },
      location: { type: 'string' },
      meeting_url: { type: 'string' },
      reminders_sent: { type: 'jsonb' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  content: {
    home: 'shard',
    component: 'Content',
    columns: {
      id: { type: 'uuid' },
      organization_id: { type: 'uuid' },
      title: { type: 'string' },
      slug: { type: 'string' },
      content_type: { type: 'string', enum: ['page', 'blog_post', 'documentation', 'template'] },
      content: { type: 'text' },
      excerpt: { type: 'text' },
      status: { type: 'string', enum: ['draft', 'published', 'archived'] },
      author_id: { type: 'uuid' },
      published_at: { type: 'timestamp' },
      seo_meta: { type: 'jsonb' },
      created_at: { type: 'timestamp' },
      updated_at: { type: 'timestamp' },
    },
  },
  activity_logs: {
    home: 'shard',
    component: 'Activity',
    columns: {
      id: { type: 'uuid' },
      organization_id: { type: 'uuid' },
      user_id: { type: 'uuid' },
      action: { type: 'string' },
      resource_type: { type: 'string' },
      resource_id: { type: 'string' },
      old_data: { type: 'jsonb' },
      new_data: { type: 'jsonb' },
      ip_address: { type: 'inet' },
      user_agent: { type: 'text' },
      created_at: { type: 'timestamp' },
    },
  },
};

/**
 * The index plan: the columns an index must lead with. On a tenant table an index may put
 * `organization_id` first (every tenant query filters by it), so it is skipped when comparing.
 */
export const INDEXES: { table: string; columns: string[]; why: string }[] = [
  { table: 'users', columns: ['clerk_user_id'], why: 'authentication lookups' },
  { table: 'users', columns: ['email'], why: 'login' },
  { table: 'customers', columns: ['email'], why: 'CRM searches' },
  { table: 'tasks', columns: ['status', 'assigned_to'], why: 'dashboard queries' },
  { table: 'ai_conversations', columns: ['user_id', 'created_at'], why: 'a user’s conversations' },
  { table: 'activity_logs', columns: ['organization_id', 'created_at'], why: 'the audit trail by time' },
  { table: 'usage_tracking', columns: ['organization_id', 'billing_period'], why: 'usage by period' },
  // Foreign key columns, for joins.
  { table: 'organization_members', columns: ['user_id'], why: 'foreign key' },
  { table: 'organization_members', columns: ['organization_id'], why: 'foreign key' },
  { table: 'customers', columns: ['assigned_to'], why: 'foreign key' },
  { table: 'projects', columns: ['customer_id'], why: 'foreign key' },
  { table: 'projects', columns: ['project_manager_id'], why: 'foreign key' },
  { table: 'tasks', columns: ['project_id'], why: 'foreign key' },
  { table: 'tasks', columns: ['parent_task_id'], why: 'foreign key' },
  { table: 'tasks', columns: ['assigned_to'], why: 'foreign key' },
  { table: 'tasks', columns: ['created_by'], why: 'foreign key' },
  { table: 'ai_conversations', columns: ['user_id'], why: 'foreign key' },
  { table: 'subscriptions', columns: ['organization_id'], why: 'foreign key' },
  { table: 'usage_tracking', columns: ['user_id'], why: 'foreign key' },
  { table: 'appointments', columns: ['customer_id'], why: 'foreign key' },
  { table: 'appointments', columns: ['assigned_to'], why: 'foreign key' },
  { table: 'content', columns: ['author_id'], why: 'foreign key' },
  { table: 'activity_logs', columns: ['user_id'], why: 'foreign key' },
  // organization_id on all multi-tenant tables.
  ...Object.entries(SCHEMA)
    .filter(
      ([table, spec]) =>
        spec.home === 'shard' &&
        'organization_id' in spec.columns &&
        table !== 'activity_logs' &&
        table !== 'usage_tracking',
    )
    .map(([table]) => ({ table, columns: ['organization_id'], why: 'tenant isolation' })),
];
