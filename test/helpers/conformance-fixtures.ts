// The fixtures the MCP conformance suite's server scenarios call (`test_*` tools, prompts, `test://` resources, completions, logging), as described by each scenario, on the official SDK's low-level Server.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';

/** A 1x1 PNG, and a WAV of no samples (its 44-byte header): the smallest valid media of each kind. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = (() => {
  const b = Buffer.alloc(44);
  b.write('RIFF', 0);
  b.writeUInt32LE(36, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16); // fmt chunk size
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8000, 24); // samples per second
  b.writeUInt32LE(16000, 28); // bytes per second
  b.writeUInt16LE(2, 32); // block align
  b.writeUInt16LE(16, 34); // bits per sample
  b.write('data', 36);
  return b.toString('base64');
})();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (t: string): CallToolResult => ({ content: [{ type: 'text', text: t }] });
const EMPTY_SCHEMA = { type: 'object', properties: {} } as const;

const TOOLS = [
  ['test_simple_text', 'returns one text item'],
  ['test_image_content', 'returns an image'],
  ['test_audio_content', 'returns audio'],
  ['test_embedded_resource', 'returns an embedded resource'],
  ['test_multiple_content_types', 'returns text, an image and a resource'],
  ['test_tool_with_logging', 'logs three messages while it runs'],
  ['test_tool_with_progress', 'reports progress while it runs'],
  ['test_error_handling', 'always fails'],
  ['test_sampling', 'asks the client to sample'],
  ['test_elicitation', 'asks the user for input'],
  ['test_elicitation_sep1034_defaults', 'asks for input with defaults'],
  ['test_elicitation_sep1330_enums', 'asks for input with every enum form'],
  ['test_reconnection', 'closes its stream before answering'],
].map(([name, description]) => ({
  name: name!,
  description: description!,
  inputSchema: EMPTY_SCHEMA,
}));

const SCHEMA_2020_12_TOOL = {
  name: 'json_schema_2020_12_tool',
  description: 'a tool whose input schema uses JSON Schema 2020-12',
  inputSchema: {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    $defs: {
      address: {
        type: 'object',
        properties: { street: { type: 'string' }, city: { type: 'string' } },
      },
    },
    properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
    additionalProperties: false,
  },
};

const ELICIT_DEFAULTS = {
  type: 'object',
  properties: {
    name: { type: 'string', default: 'John Doe' },
    age: { type: 'integer', default: 30 },
    score: { type: 'number', default: 95.5 },
    status: { type: 'string', enum: ['active', 'inactive', 'pending'], default: 'active' },
    verified: { type: 'boolean', default: true },
  },
};

const ELICIT_ENUMS = {
  type: 'object',
  properties: {
    untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    titledSingle: {
      type: 'string',
      oneOf: [
        { const: 'value1', title: 'First Option' },
        { const: 'value2', title: 'Second Option' },
      ],
    },
    legacyEnum: {
      type: 'string',
      enum: ['opt1', 'opt2', 'opt3'],
      enumNames: ['Option One', 'Option Two', 'Option Three'],
    },
    untitledMulti: {
      type: 'array',
      items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    },
    titledMulti: {
      type: 'array',
      items: {
        anyOf: [
          { const: 'value1', title: 'First Choice' },
          { const: 'value2', title: 'Second Choice' },
        ],
      },
    },
  },
};

/** A server (one per session) with every fixture the suite's server scenarios call. */
export function buildFixtureServer(): Server {
  const server = new Server(
    { name: 'conformance-fixtures', version: '1.0.0' },
    {
      capabilities: {
        tools: {},
        prompts: {},
        resources: { subscribe: true },
        logging: {},
        completions: {},
      },
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [...TOOLS, SCHEMA_2020_12_TOOL],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const args = request.params.arguments ?? {};
    const elicit = (message: string, requestedSchema: object) =>
      extra.sendRequest(
        { method: 'elicitation/create', params: { message, requestedSchema } },
        ElicitResultSchema,
      );
    switch (request.params.name) {
      case 'test_simple_text':
        return text('This is a simple text response for testing.');
      case 'test_image_content':
        return { content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] };
      case 'test_audio_content':
        return { content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] };
      case 'test_embedded_resource':
        return {
          content: [
            {
              type: 'resource',
              resource: {
                uri: 'test://embedded-resource',
                mimeType: 'text/plain',
                text: 'This is an embedded resource content.',
              },
            },
          ],
        };
      case 'test_multiple_content_types':
        return {
          content: [
            { type: 'text', text: 'Multiple content types test:' },
            { type: 'image', data: PNG, mimeType: 'image/png' },
            {
              type: 'resource',
              resource: {
                uri: 'test://mixed-content-resource',
                mimeType: 'application/json',
                text: '{"test":"data","value":123}',
              },
            },
          ],
        };
      case 'test_tool_with_logging':
        for (const [i, data] of [
          'Tool execution started',
          'Tool processing data',
          'Tool execution completed',
        ].entries()) {
          if (i > 0) await sleep(50);
          await extra.sendNotification({
            method: 'notifications/message',
            params: { level: 'info', data },
          });
        }
        return text('Tool with logging executed successfully');
      case 'test_tool_with_progress': {
        const progressToken = request.params._meta?.progressToken;
        for (const progress of [0, 50, 100]) {
          if (progress > 0) await sleep(50);
          if (progressToken !== undefined) {
            await extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress, total: 100 },
            });
          }
        }
        return text('Tool with progress executed successfully');
      }
      case 'test_error_handling':
        return {
          isError: true,
          content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
        };
      case 'test_sampling': {
        const sampled = await extra.sendRequest(
          {
            method: 'sampling/createMessage',
            params: {
              messages: [
                { role: 'user', content: { type: 'text', text: String(args['prompt'] ?? '') } },
              ],
              maxTokens: 100,
            },
          },
          CreateMessageResultSchema,
        );
        const content = sampled.content;
        return text(`LLM response: ${'text' in content ? content.text : ''}`);
      }
      case 'test_elicitation': {
        const answer = await elicit(String(args['message'] ?? ''), {
          type: 'object',
          properties: {
            username: { type: 'string', description: "User's response" },
            email: { type: 'string', description: "User's email address" },
          },
          required: ['username', 'email'],
        });
        return text(`User response: ${JSON.stringify(answer)}`);
      }
      case 'test_elicitation_sep1034_defaults':
      case 'test_elicitation_sep1330_enums': {
        const defaults = request.params.name === 'test_elicitation_sep1034_defaults';
        const answer = await elicit(
          'Please review the fields',
          defaults ? ELICIT_DEFAULTS : ELICIT_ENUMS,
        );
        return text(
          `Elicitation completed: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`,
        );
      }
      case 'test_reconnection':
        // The client is switched to polling: it reconnects with Last-Event-ID and gets the answer.
        await sleep(100);
        extra.closeSSEStream?.();
        await sleep(200);
        return text('Reconnection test completed');
      default:
        throw new McpError(-32602, `Tool ${request.params.name} not found`);
    }
  });
  server.setRequestHandler(ListResourcesRequestSchema, () => ({
    resources: [
      {
        uri: 'test://static-text',
        name: 'static-text',
        description: 'text',
        mimeType: 'text/plain',
      },
      {
        uri: 'test://static-binary',
        name: 'static-binary',
        description: 'png',
        mimeType: 'image/png',
      },
    ],
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      {
        uriTemplate: 'test://template/{id}/data',
        name: 'template',
        description: 'data by id',
        mimeType: 'application/json',
      },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, (request) => {
    const uri = request.params.uri;
    if (uri === 'test://static-text') {
      const t = 'This is the content of the static text resource.';
      return { contents: [{ uri, mimeType: 'text/plain', text: t }] };
    }
    if (uri === 'test://static-binary')
      return { contents: [{ uri, mimeType: 'image/png', blob: PNG }] };
    const id = /^test:\/\/template\/([^/]+)\/data$/.exec(uri)?.[1];
    if (id !== undefined) {
      const data = JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` });
      return { contents: [{ uri, mimeType: 'application/json', text: data }] };
    }
    throw new McpError(-32002, `Resource ${uri} not found`);
  });
  server.setRequestHandler(SubscribeRequestSchema, () => ({}));
  server.setRequestHandler(UnsubscribeRequestSchema, () => ({}));
  server.setRequestHandler(ListPromptsRequestSchema, () => ({
    prompts: [
      { name: 'test_simple_prompt', description: 'a simple prompt' },
      {
        name: 'test_prompt_with_arguments',
        description: 'a prompt with arguments',
        arguments: [
          { name: 'arg1', description: 'first', required: true },
          { name: 'arg2', description: 'second', required: true },
        ],
      },
      {
        name: 'test_prompt_with_embedded_resource',
        description: 'a prompt embedding a resource',
        arguments: [{ name: 'resourceUri', description: 'what to embed', required: true }],
      },
      { name: 'test_prompt_with_image', description: 'a prompt with an image' },
    ],
  }));
  server.setRequestHandler(GetPromptRequestSchema, (request) => {
    const args = request.params.arguments ?? {};
    const user = (t: string) => ({
      role: 'user' as const,
      content: { type: 'text' as const, text: t },
    });
    switch (request.params.name) {
      case 'test_simple_prompt':
        return { messages: [user('This is a simple prompt for testing.')] };
      case 'test_prompt_with_arguments':
        return {
          messages: [user(`Prompt with arguments: arg1='${args['arg1']}', arg2='${args['arg2']}'`)],
        };
      case 'test_prompt_with_embedded_resource':
        return {
          messages: [
            {
              role: 'user',
              content: {
                type: 'resource',
                resource: {
                  uri: args['resourceUri'] ?? 'test://example-resource',
                  mimeType: 'text/plain',
                  text: 'Embedded resource content for testing.',
                },
              },
            },
            user('Please process the embedded resource above.'),
          ],
        };
      case 'test_prompt_with_image':
        return {
          messages: [
            { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
            user('Please analyze the image above.'),
          ],
        };
      default:
        throw new McpError(-32602, `Prompt ${request.params.name} not found`);
    }
  });
  server.setRequestHandler(CompleteRequestSchema, (request) => {
    const prefix = request.params.argument.value;
    const values = ['paris', 'park', 'party', 'test'].filter((v) => v.startsWith(prefix));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  return server;
}
