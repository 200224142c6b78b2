// What the model is told about the conversation's subject: the linked project (with its open
// tasks), customer or task, read with the caller's permissions and cut to a token budget.
import type { TenantContext } from '../../env';
import { ApiError } from '../../lib/problem';
import type { Conversation } from '../conversations/service';
import { getCustomer } from '../customers/service';
import { getProject } from '../projects/service';
import { getTask, listTasks } from '../tasks/service';
import { estimateTokens } from './providers';

/** The system prompt's share of the model's window for the subject (~4 characters a token). */
export const CONTEXT_TOKEN_BUDGET = 1500;
const OPEN_TASKS_SHOWN = 30;

const line = (label: string, value: unknown) =>
  value === null || value === undefined || value === '' ? null : `${label}: ${value}`;
const lines = (...items: (string | null)[]) => items.filter(Boolean).join('\n');

/** Cuts `text` to `budget` tokens, saying so, so the model knows it is not the whole record. */
export function withinBudget(text: string, budget: number): string {
  if (estimateTokens(text) <= budget) return text;
  return `${text.slice(0, budget * 4 - 20)}\n… (truncated)`;
}

async function subject(ctx: TenantContext, conversation: Conversation): Promise<string> {
  const id = conversation.context_id!;
  switch (conversation.context_type) {
    case 'general':
      return 'Context: a general conversation, about no particular record.';
    case 'project': {
      const [project, page] = await Promise.all([
        getProject({ ctx, id, input: {} }),
        listTasks({ ctx, input: { project_id: id, limit: 100 } }),
      ]);
      const open = page.data.filter((t) => t.status !== 'done' && t.status !== 'cancelled').slice(0, OPEN_TASKS_SHOWN);
      return lines(
        `Context: the project "${project.name}" (id ${project.id}).`,
        line('Status', project.status),
        line('Priority', project.priority),
        line('Start date', project.start_date),
        line('Due date', project.due_date),
        line('Budget', project.budget),
        line('Description', project.description),
        `Open tasks (${open.length}):`,
        ...open.map(
          (t) =>
            `- [${t.status}] ${t.title} (id ${t.id}, priority ${t.priority}${t.due_date ? `, due ${t.due_date}` : ''})`,
        ),
      );
    }
    case 'customer': {
      const customer = await getCustomer({ ctx, id });
      return lines(
        `Context: the customer "${customer.name}" (id ${customer.id}).`,
        line('Company', customer.company),
        line('Email', customer.email),
        line('Status', customer.status),
        line('Tags', customer.tags.join(', ')),
        line('Notes', customer.notes),
      );
    }
    case 'task': {
      const task = await getTask({ ctx, id });
      return lines(
        `Context: the task "${task.title}" (id ${task.id}) of project ${task.project_id}.`,
        line('Status', task.status),
        line('Priority', task.priority),
        line('Due date', task.due_date),
        line('Description', task.description),
      );
    }
  }
}

/** The system prompt. A subject the caller may not read, or one deleted since, is said to be unavailable. */
export async function systemPrompt(ctx: TenantContext, conversation: Conversation): Promise<string> {
  let about: string;
  try {
    about = await subject(ctx, conversation);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    about = `Context: the linked ${conversation.context_type} is not available (${error.code}).`;
  }
  return lines(
    `You are Strive's assistant for the organization "${ctx.organization.name}". Answer briefly. Use the tools ` +
      `to look records up or change them; never invent ids.`,
    withinBudget(about, CONTEXT_TOKEN_BUDGET),
  );
}
