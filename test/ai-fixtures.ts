// The seed's AI tools catalog (scripts/seed.mjs, ids …401–403), for tests: the catalog is empty
// until someone adds tools, and a tool is only offered when the catalog has it.
import { env } from 'cloudflare:test';
import { uuidv7 } from '../src/lib/ids';

const TOOLS = [
  {
    name: 'Search customers',
    function_name: 'search_customers',
    tool_type: 'analysis',
    required_tier: 'free',
    description: "Search the organization's customers by name, email or company.",
    parameters: {
      type: 'object',
      properties: { query: { type: 'string' }, status: { type: 'string' }, limit: { type: 'integer' } },
      required: ['query'],
    },
  },
  {
    name: 'List project tasks',
    function_name: 'list_project_tasks',
    tool_type: 'analysis',
    required_tier: 'free',
    description: 'List the tasks of a project, optionally only those in one status column.',
    parameters: {
      type: 'object',
      properties: { project_id: { type: 'string' }, status: { type: 'string' }, assigned_to_me: { type: 'boolean' } },
      required: ['project_id'],
    },
  },
  {
    name: 'Create task',
    function_name: 'create_task',
    tool_type: 'automation',
    required_tier: 'basic',
    description: 'Create a task in a project, at the bottom of its column.',
    parameters: {
      type: 'object',
      properties: { project_id: { type: 'string' }, title: { type: 'string' } },
      required: ['project_id', 'title'],
    },
  },
];

export async function seedAiTools() {
  const now = new Date().toISOString();
  await env.CATALOG.batch(
    TOOLS.map((tool) =>
      env.CATALOG.prepare(
        'INSERT OR IGNORE INTO ai_tools (id, name, function_name, description, tool_type, required_tier, ' +
          'configuration, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)',
      ).bind(
        uuidv7(),
        tool.name,
        tool.function_name,
        tool.description,
        tool.tool_type,
        tool.required_tier,
        JSON.stringify({ parameters: tool.parameters }),
        now,
        now,
      ),
    ),
  );
}
