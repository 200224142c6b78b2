// The seed's AI tools catalog (scripts/seed.mjs, ids …401–403), for tests: the catalog is empty
// until someone adds tools, and a tool is only offered when the catalog has it.
import { env } from 'cloudflare:test';
import { uuidv7 } from '../src/lib/ids';

const TOOLS = [
  {
    name: 'search_customers', category: 'crm', required_tier: 'free',
    description: "Search the organization's customers by name, email or company.",
    parameters: { type: 'object', properties: { query: { type: 'string' }, status: { type: 'string' }, limit: { type: 'integer' } }, required: ['query'] },
  },
  {
    name: 'list_project_tasks', category: 'projects', required_tier: 'free',
    description: 'List the tasks of a project, optionally only those in one status column.',
    parameters: { type: 'object', properties: { project_id: { type: 'string' }, status: { type: 'string' }, assigned_to_me: { type: 'boolean' } }, required: ['project_id'] },
  },
  {
    name: 'create_task', category: 'projects', required_tier: 'basic',
    description: 'Create a task in a project, at the bottom of its column.',
    parameters: { type: 'object', properties: { project_id: { type: 'string' }, title: { type: 'string' } }, required: ['project_id', 'title'] },
  },
];

export async function seedAiTools() {
  const now = new Date().toISOString();
  await env.CATALOG.batch(TOOLS.map((tool) =>
    env.CATALOG.prepare(
      'INSERT OR IGNORE INTO ai_tools (id, name, description, category, required_tier, parameters, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)',
    ).bind(uuidv7(), tool.name, tool.description, tool.category, tool.required_tier, JSON.stringify(tool.parameters), now, now),
  ));
}
