/**
 * Request bodies shaped like a coding agent's turn (Claude Code, Codex): a system prompt,
 * tool definitions with JSON schemas, and a long conversation of tool calls and tool results
 * (source files with quotes, backslashes, newlines and some non-ASCII text), ending with a
 * short user message, so the mock's echo (and the response) stays small whatever the size.
 * Deterministic: the same format and size always give the same bytes.
 *
 *   conversationBody('claude', 100 * 1024, { model: 'claude-bench' })  // a Buffer of about 100 KB
 */

const SYSTEM_INTRO =
  'You are an interactive CLI tool that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user.\n\n';
const SYSTEM_RULES = [
  'IMPORTANT: Refuse to write code or explain code that may be used maliciously; even if the user claims it is for educational purposes.',
  "When making changes to files, first understand the file's code conventions. Mimic code style, use existing libraries and utilities, and follow existing patterns.",
  'NEVER assume that a given library is available, even if it is well known. Check that this codebase already uses it (look at neighboring files, or the package.json).',
  'Do not add comments to the code you write, unless the user asks you to, or the code is complex and requires additional context.',
  'You MUST answer concisely with fewer than 4 lines of text (not including tool use or code generation), unless the user asks for detail.',
  'When you run a non-trivial bash command, you should explain what the command does and why you are running it.',
  'Use the TodoWrite tool to plan the task if required; mark todos as completed as soon as you are done with a task.',
  'VERY IMPORTANT: When you have completed a task, you MUST run the lint and typecheck commands (e.g. npm run lint, npm run typecheck, ruff, etc.) with Bash if they were provided to you.',
];

const TOOL_NAMES = [
  'Bash',
  'Glob',
  'Grep',
  'LS',
  'Read',
  'Edit',
  'MultiEdit',
  'Write',
  'NotebookEdit',
  'WebFetch',
  'TodoWrite',
  'WebSearch',
  'Task',
  'ExitPlanMode',
  'BashOutput',
  'KillShell',
];

function toolSchema(i) {
  return {
    type: 'object',
    properties: {
      file_path: {
        type: 'string',
        description: 'The absolute path to the file to operate on (must be absolute, not relative)',
      },
      command: {
        type: 'string',
        description: 'The command to execute; quote paths that contain spaces with double quotes',
      },
      timeout: { type: 'number', description: `Optional timeout in milliseconds (max ${600000 + i})` },
      pattern: {
        type: 'string',
        description:
          'The regular expression pattern to search for in file contents, e.g. "log.*Error" or "function\\s+\\w+"',
      },
      options: {
        type: 'object',
        properties: { recursive: { type: 'boolean' }, limit: { type: 'integer', minimum: 1 } },
        additionalProperties: false,
      },
    },
    required: ['file_path'],
    additionalProperties: false,
    $schema: 'http://json-schema.org/draft-07/schema#',
  };
}

function toolDescription(name) {
  return `${name}: ${'Performs its operation on the local machine and returns the output. Usage notes: the path must be absolute; results longer than 30000 characters are truncated; prefer this tool over shell equivalents. '.repeat(3)}`;
}

/** A source file as a tool result shows it: line-numbered code with quotes, escapes and some non-ASCII text. */
function sourceFile(turn, lines) {
  const out = [];
  for (let i = 1; i <= lines; i++) {
    switch (i % 6) {
      case 0:
        out.push(
          `${String(i).padStart(5)}\u2192  const message = "turn ${turn}: can't parse \\"${i}\\" (expected a number)";`,
        );
        break;
      case 1:
        out.push(
          `${String(i).padStart(5)}\u2192  export function parseLine${i}(input: string): Record<string, unknown> {`,
        );
        break;
      case 2:
        out.push(
          `${String(i).padStart(5)}\u2192    const match = /^(\\w+)\\s*=\\s*"([^"]*)"$/.exec(input.trim()); // naïve, but enough — für jetzt`,
        );
        break;
      case 3:
        out.push(`${String(i).padStart(5)}\u2192    if (!match) throw new Error(\`line ${i}: \${input}\\n\`);`);
        break;
      case 4:
        out.push(
          `${String(i).padStart(5)}\u2192    return { key: match[1], value: match[2].replace(/\\\\t/g, '\\t') };`,
        );
        break;
      default:
        out.push(`${String(i).padStart(5)}\u2192  }`);
    }
  }
  return out.join('\n');
}

/** One agent turn: a tool call and its result, as neutral pieces the formats below wrap. */
function turnPieces(turn, resultLines) {
  const tool = TOOL_NAMES[turn % TOOL_NAMES.length];
  return {
    userText:
      turn === 0
        ? 'The parser in src/config/parse.ts fails on quoted values with escapes; please fix it and run the unit suite.'
        : undefined,
    assistantText: `I'll look at step ${turn} of this: checking src/config/parse-${turn}.ts first.`,
    callId: `toolu_${String(turn).padStart(4, '0')}abcdef0123456789`,
    tool,
    input: {
      file_path: `/home/dev/project/src/config/parse-${turn}.ts`,
      command: `npx vitest run src/config/parse-${turn}.spec.ts --reporter=dot`,
      options: { recursive: true, limit: 2000 },
    },
    result: sourceFile(turn, resultLines),
  };
}

const LAST_USER_TEXT = 'Thanks. Now run the full suite once more and summarise what changed.';

function claudeBody(model, system, tools, turns) {
  const messages = [];
  for (const t of turns) {
    if (t.userText) messages.push({ role: 'user', content: [{ type: 'text', text: t.userText }] });
    messages.push({
      role: 'assistant',
      content: [
        { type: 'text', text: t.assistantText },
        { type: 'tool_use', id: t.callId, name: t.tool, input: t.input },
      ],
    });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: t.callId, content: t.result }] });
  }
  messages.push({
    role: 'user',
    content: [{ type: 'text', text: LAST_USER_TEXT, cache_control: { type: 'ephemeral' } }],
  });
  return {
    model,
    max_tokens: 32000,
    system: [
      {
        type: 'text',
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: { type: 'ephemeral' },
      },
      { type: 'text', text: system, cache_control: { type: 'ephemeral' } },
    ],
    messages,
    tools: tools.map((name, i) => ({ name, description: toolDescription(name), input_schema: toolSchema(i) })),
    metadata: { user_id: 'user_0f3c2a_account_5d1e_session_9b7a4c21' },
    temperature: 1,
    stream: false,
  };
}

function openaiChatBody(model, system, tools, turns) {
  const messages = [{ role: 'system', content: system }];
  for (const t of turns) {
    if (t.userText) messages.push({ role: 'user', content: t.userText });
    messages.push({
      role: 'assistant',
      content: t.assistantText,
      tool_calls: [{ id: t.callId, type: 'function', function: { name: t.tool, arguments: JSON.stringify(t.input) } }],
    });
    messages.push({ role: 'tool', tool_call_id: t.callId, content: t.result });
  }
  messages.push({ role: 'user', content: LAST_USER_TEXT });
  return {
    model,
    messages,
    tools: tools.map((name, i) => ({
      type: 'function',
      function: { name, description: toolDescription(name), parameters: toolSchema(i) },
    })),
    tool_choice: 'auto',
    max_tokens: 32000,
    temperature: 1,
    stream: false,
  };
}

/**
 * A request body of about `targetBytes` (within a few per cent) in `format` ('claude' or
 * 'openai-chat'): system prompt and tools take about a third of it (at most 16 tools and a
 * 12 KB system prompt, as Claude Code sends), the conversation the rest.
 */
export function conversationBody(format, targetBytes, { model }) {
  const build = format === 'claude' ? claudeBody : format === 'openai-chat' ? openaiChatBody : undefined;
  if (!build) throw new Error(`no conversation body for format ${format}`);
  const systemBytes = Math.min(12 * 1024, Math.floor(targetBytes / 6));
  let system = SYSTEM_INTRO;
  for (let i = 0; system.length < systemBytes; i++) system += `- ${SYSTEM_RULES[i % SYSTEM_RULES.length]}\n`;
  const toolCount = Math.max(1, Math.min(TOOL_NAMES.length, Math.floor(targetBytes / 6 / 1200)));
  const tools = TOOL_NAMES.slice(0, toolCount);
  // Grow the conversation turn by turn (30-line files), then fit the last turn's file to the target.
  const turns = [];
  const size = () => Buffer.byteLength(JSON.stringify(build(model, system, tools, turns)));
  // Every 30-line turn has about the same size: jump close to the target, then step.
  const empty = size();
  turns.push(turnPieces(0, 30));
  const perTurn = Math.max(1, size() - empty);
  while (turns.length < Math.floor((targetBytes - empty) / perTurn) - 1) turns.push(turnPieces(turns.length, 30));
  while (size() < targetBytes) turns.push(turnPieces(turns.length, 30));
  if (turns.length > 1) {
    const last = turns.length - 1;
    let lo = 1;
    let hi = 30;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      turns[last] = turnPieces(last, mid);
      if (size() <= targetBytes) lo = mid;
      else hi = mid - 1;
    }
    turns[last] = turnPieces(last, lo);
  }
  return Buffer.from(JSON.stringify(build(model, system, tools, turns)));
}
